#!/usr/bin/env node
// Validate glTF/glb files with the Khronos glTF-Validator (npm "gltf-validator", pinned in
// package.json; `npm install` at the repository root). Prints one JSON report per file
// (an array) on stdout; exit status 0 when no file has errors, 1 otherwise, 2 on usage errors.
//   node scripts/gltf_validate.js out/head.glb [more.glb ...]
const fs = require("fs");
const path = require("path");

let validator;
try {
  validator = require("gltf-validator");
} catch (e) {
  console.error("gltf_validate: the gltf-validator npm package is missing; run `npm install` in " +
                path.dirname(__dirname));
  process.exit(2);
}

async function validate(file) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const dir = path.dirname(file);
  return validator.validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 200,
    externalResourceFunction: (uri) =>
      new Promise((resolve, reject) => {
        fs.readFile(path.resolve(dir, decodeURIComponent(uri)), (err, data) =>
          err ? reject(err.toString()) : resolve(new Uint8Array(data)));
      }),
  });
}

(async () => {
  const files = process.argv.slice(2);
  if (!files.length) {
    console.error("usage: node scripts/gltf_validate.js FILE.glb [...]");
    process.exit(2);
  }
  const reports = [];
  for (const f of files) reports.push(await validate(f));
  console.log(JSON.stringify(reports, null, 1));
  process.exit(reports.some((r) => r.issues.numErrors > 0) ? 1 : 0);
})().catch((e) => {
  console.error("gltf_validate: " + e);
  process.exit(2);
});
