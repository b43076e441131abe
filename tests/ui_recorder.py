"""A stand-in for Blender's UILayout, to draw panels in tests."""


class LayoutRecorder:
    """Records every call (name, args, kwargs); returns itself for rows, columns and boxes."""

    def __init__(self):
        object.__setattr__(self, "calls", [])

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return self

        return call

    def __setattr__(self, name, value):  # layout.enabled = ..., layout.use_property_split = ...
        pass


def draw(panel_cls, context):
    """Draw ``panel_cls`` into a recorder; returns its calls."""
    layout = LayoutRecorder()
    panel_cls.draw(type("P", (), {"layout": layout})(), context)
    return layout.calls
