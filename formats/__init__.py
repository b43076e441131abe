"""Pure file formats (CSV interchange, TextGrid, ...). Never imports bpy."""
