#!/usr/bin/env node
// Play a glb in three.js inside headless Chromium - a real glTF client, not ours - and report
// where chosen vertices are at chosen times (morph targets + skinning applied), plus screenshots.
// Test tool only (npm "three" + "playwright-core" from package.json; Debian's `chromium`).
//
//   node scripts/gltf_play.js spec.json        -> JSON on stdout
//
// spec: {"glb": "head.glb", "clip": "Talk" (default: the first), "times": [0, 0.5, ...],
//        "probes": [[x, y, z], ...]   rest positions (glTF space, metres): the nearest vertex of
//                                     any mesh is followed,
//        "shots": [{"time": 0.5, "path": "jaw.png"}], "size": 512,
//        "chromium": "/usr/bin/chromium" (default: $FACEFORGE_CHROMIUM or /usr/bin/chromium)}
// out:  {"clips": [{"name", "duration", "tracks": [...]}], "morphTargets": N, "meshes": N,
//        "bones": [...], "height": metres (rest bounding box), "probes": [per time: [[x,y,z] per probe]],
//        "matched": [distance of each probe's vertex from its rest position], "shots": [...]}
// Exit status 0 on success, 1 when the page failed, 2 on usage errors.
const fs = require("fs");
const path = require("path");

const ROOT = path.dirname(__dirname);
const ORIGIN = "http://faceforge.test";

const PAGE = `<!doctype html><html><head><style>html,body{margin:0;background:#20242a}</style>
<script type="importmap">{"imports": {"three": "${ORIGIN}/three/build/three.module.js",
 "three/addons/": "${ORIGIN}/three/examples/jsm/"}}</script></head><body>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
window.run = async (spec) => {
  const gltf = await new GLTFLoader().loadAsync("${ORIGIN}/model.glb");
  const scene = gltf.scene;
  const meshes = [];
  scene.traverse((o) => { if (o.isMesh) meshes.push(o); });
  const bones = [];
  scene.traverse((o) => { if (o.isBone) bones.push(o.name); });
  const clips = gltf.animations.map((c) => ({ name: c.name, duration: c.duration,
    tracks: c.tracks.map((t) => t.name) }));
  const clip = spec.clip ? gltf.animations.find((c) => c.name === spec.clip) : gltf.animations[0];
  if (spec.clip && !clip) throw new Error("no clip named " + spec.clip);
  const mixer = new THREE.AnimationMixer(scene);
  if (clip) mixer.clipAction(clip).play();
  const pose = (t) => { mixer.setTime(t); scene.updateMatrixWorld(true);
    for (const m of meshes) if (m.isSkinnedMesh) m.skeleton.update(); };
  const v = new THREE.Vector3();
  const world = (m, i) => { m.getVertexPosition(i, v); return v.clone().applyMatrix4(m.matrixWorld); };
  // rest: no clip playing
  mixer.stopAllAction(); scene.updateMatrixWorld(true);
  for (const m of meshes) { if (m.morphTargetInfluences) m.morphTargetInfluences.fill(0); }
  const box = new THREE.Box3();
  for (const m of meshes) { const n = m.geometry.attributes.position.count;
    for (let i = 0; i < n; i++) box.expandByPoint(world(m, i)); }
  const picks = (spec.probes || []).map((p) => {
    const want = new THREE.Vector3(...p); let best = [Infinity, null, -1];
    for (const m of meshes) { const n = m.geometry.attributes.position.count;
      for (let i = 0; i < n; i++) { const d = world(m, i).distanceTo(want); if (d < best[0]) best = [d, m, i]; } }
    return best; });
  if (clip) mixer.clipAction(clip).play();
  const probes = [];
  for (const t of spec.times || []) { pose(t); probes.push(picks.map(([, m, i]) => world(m, i).toArray())); }
  const morphTargets = meshes.reduce((n, m) => Math.max(n, (m.morphTargetInfluences || []).length), 0);
  // pictures: a front view framed on the head, a soft key light
  const size = spec.size || 512;
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setSize(size, size); renderer.setClearColor(0x20242a, 1); document.body.appendChild(renderer.domElement);
  const centre = box.getCenter(new THREE.Vector3()); const dims = box.getSize(new THREE.Vector3());
  const camera = new THREE.PerspectiveCamera(30, 1, dims.y / 100, dims.y * 100);
  camera.position.set(centre.x + dims.y * 0.6, centre.y + dims.y * 0.05, centre.z + dims.y * 2.2);
  camera.lookAt(centre);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x404040, 2.0));
  const key = new THREE.DirectionalLight(0xffffff, 2.0); key.position.set(1, 1, 2); scene.add(key);
  const shots = [];
  for (const s of spec.shots || []) { pose(s.time); renderer.render(scene, camera);
    shots.push({ path: s.path, data: renderer.domElement.toDataURL("image/png") }); }
  return { clips, morphTargets, meshes: meshes.length, bones, height: dims.y, probes,
           matched: picks.map((p) => p[0]), shots };
};
window.ready = true;
</script></body></html>`;

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node scripts/gltf_play.js spec.json");
    process.exit(2);
  }
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  let chromium;
  try {
    ({ chromium } = require("playwright-core"));
  } catch (e) {
    console.error("gltf_play: the playwright-core npm package is missing; run `npm install` in " + ROOT);
    process.exit(2);
  }
  const exe = spec.chromium || process.env.FACEFORGE_CHROMIUM || "/usr/bin/chromium";
  if (!fs.existsSync(exe)) {
    console.error(`gltf_play: no Chromium at ${exe} (Debian: apt-get install chromium)`);
    process.exit(2);
  }
  const browser = await chromium.launch({ executablePath: exe, headless: true,
    args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== ORIGIN) return route.abort();
      if (url.pathname === "/") return route.fulfill({ contentType: "text/html", body: PAGE });
      if (url.pathname === "/model.glb") return route.fulfill({ contentType: "model/gltf-binary", body: fs.readFileSync(spec.glb) });
      if (url.pathname.startsWith("/three/")) {
        const file = path.join(ROOT, "node_modules", decodeURIComponent(url.pathname));
        if (fs.existsSync(file)) return route.fulfill({ contentType: "text/javascript", body: fs.readFileSync(file) });
      }
      return route.fulfill({ status: 404, body: "not found" });
    });
    await page.goto(ORIGIN + "/");
    await page.waitForFunction(() => window.ready === true, null, { timeout: 60000 });
    const out = await page.evaluate((s) => window.run(s), spec);
    for (const s of out.shots) {
      fs.writeFileSync(s.path, Buffer.from(s.data.split(",")[1], "base64"));
      delete s.data;
    }
    out.errors = errors;
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error("gltf_play: " + (e && e.stack || e));
  process.exit(1);
});
