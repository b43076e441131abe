"""The photo head's texture: the photo projected onto the head's UVs, the rest filled (pure numpy + OpenCV).

:func:`bake_photo_texture` turns a photo and its :class:`facemodel.photo.PhotoFit` into one image
texture for the skin (:class:`PhotoTexture`):

* **Atlas.** The skin (the ``face`` and ``head_neck`` parts and the eye sockets) uses ICT's UDIM-like
  tiles u 0..1 (face) and 1..2 (head, neck, sockets); the texture packs both into one image twice
  as wide as high, and :func:`atlas_uv` gives the head's UVs for it (u / 2 on the skin, every other
  polygon as ICT has it: they get flat materials).
* **Projection.** Every texel is a point on the head posed with the photo's expression; it takes the
  photo's colour where the camera saw it: not hidden (a depth buffer of the head in the photo), turned
  toward the camera (weight rising from 0 at 78 degrees to 1 at 45 degrees between the surface normal
  and the view ray), inside the face outline of the photo's landmarks (the weight fades to 0 over
  the outline's last :data:`FEATHER_IOD` x the eye distance: no background), outside the eye
  openings and the open mouth (those belong to the eyeballs and the mouth's inside), and where the
  pixel looks like this face's skin (:func:`skin_likeness`: no hair, beard or glasses frames).
* **Mirror.** Where a texel was not seen but its mirror image on the other side of the face was (a
  turned face), it takes that colour.
* **Fill.** The rest (sides, back of the head, neck, ears, the lids' inner rims) is a smooth field
  over the head's vertices that follows the photo's colours at the edge of what was seen and
  relaxes to the photo's median skin tone (brows and lips to their own colours) further away: one
  sparse solve, continuous across the UV seams because it lives on the vertices.

Colours are sRGB (the photo's), the image's row 0 is the top (v = 1).  :func:`iris_colour` samples
the eyes' colour from the photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..rigging import regions as R
from .model import LOOKS, PART_NAMES, FaceModel

SKIN_PARTS = ("face", "head_neck", "eye_socket_L", "eye_socket_R")
UNPAINTED_PARTS = ("eye_socket_L", "eye_socket_R")  # the lids' inner rims: filled, never from the photo
INNER_LID = (1.0, 0.82, 0.8)  # their tone: the skin's, a little pinker
# parts that hide what is behind them in the photo (films and lashes are see-through)
OCCLUDING_PARTS = ("face", "head_neck", "mouth_socket", "eye_socket_L", "eye_socket_R", "gums_tongue",
                   "teeth_upper", "teeth_lower", "sclera_L", "iris_L", "sclera_R", "iris_R")
TEXTURE_SIZE = 1024  # texels per UV tile side; the atlas is (size, 2 size)
PAD_TEXELS = 8  # the skin's colours reach this far into the empty texels around its UV islands
FEATHER_IOD = 0.25  # the photo fades out over this much of the eye distance inside the face outline
COS_FULL, COS_NONE = 0.7, 0.2  # view-ray cosines: full photo weight / none
MIRROR_WEIGHT = 0.85  # how much a mirrored colour counts against the fill
EYE_HOLE_IOD = (0.0, 0.02)  # the eye openings left out: grown by, then fading over (x the eye distance)
MOUTH_HOLE_IOD = (0.03, 0.04)  # the open mouth (teeth, tongue) left out
DEPTH_TOLERANCE_M = 0.004  # a texel within this of the nearest surface in the photo counts as seen
DEFAULT_IRIS = (0.33, 0.22, 0.14)  # sRGB, used when the eyes are closed or too small


@dataclass(eq=False)
class PhotoTexture:
    """``image`` (size, 2 size, 3) uint8 sRGB, row 0 at the top; ``weight`` (size, 2 size) float32:
    how much of each texel is the photo (0: filled); ``skin``, ``brows``, ``lips`` (3,) sRGB 0..1:
    the tones used for the fill; ``iris`` (3,) sRGB 0..1; ``stats``: figures (coverage...)."""

    image: np.ndarray
    weight: np.ndarray
    skin: np.ndarray
    brows: np.ndarray
    lips: np.ndarray
    iris: np.ndarray
    stats: dict = field(default_factory=dict)


# --- rasterising ------------------------------------------------------------------------


def rasterize(xy: np.ndarray, width: int, height: int, depth: np.ndarray | None = None,
              chunk: int = 1_500_000):
    """Triangles ``xy`` (T, 3, 2) in pixels (x right, y down; pixel (i, j) has its centre at
    (j + 0.5, i + 0.5)) -> ``tri`` (H, W) int32 (the triangle covering each pixel centre, -1: none),
    ``bary`` (H, W, 3) float32 and, with ``depth`` (T, 3), ``zbuf`` (H, W) float32 (the nearest
    triangle wins; inf where none).  Vectorised over the pixels of the triangles' boxes."""
    xy = np.asarray(xy, np.float64)
    n_pix = width * height
    tri = np.full(n_pix, -1, np.int32)
    bary = np.zeros((n_pix, 3), np.float32)
    zbuf = np.full(n_pix, np.inf, np.float32) if depth is not None else None
    if not len(xy):
        return tri.reshape(height, width), bary.reshape(height, width, 3), \
            (zbuf.reshape(height, width) if zbuf is not None else None)
    lo, hi = xy.min(axis=1), xy.max(axis=1)
    c0 = np.maximum(np.ceil(lo[:, 0] - 0.5), 0).astype(np.int64)
    c1 = np.minimum(np.floor(hi[:, 0] - 0.5), width - 1).astype(np.int64)
    r0 = np.maximum(np.ceil(lo[:, 1] - 0.5), 0).astype(np.int64)
    r1 = np.minimum(np.floor(hi[:, 1] - 0.5), height - 1).astype(np.int64)
    a, b, c = xy[:, 0], xy[:, 1], xy[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    nx, ny = c1 - c0 + 1, r1 - r0 + 1
    ok = (nx > 0) & (ny > 0) & (np.abs(area) > 1e-12) & np.isfinite(area)
    ids = np.flatnonzero(ok)
    counts = (nx * ny)[ids]
    ends = np.cumsum(counts)
    start = 0
    while start < len(ids):
        stop = int(np.searchsorted(ends, (ends[start - 1] if start else 0) + chunk, side="right"))
        stop = max(stop, start + 1)
        t = ids[start:stop]
        cnt = counts[start:stop]
        start = stop
        rep = np.repeat(t, cnt)
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        k = np.arange(len(rep), dtype=np.int64) - first
        w_ = nx[rep]
        px = c0[rep] + k % w_
        py = r0[rep] + k // w_
        x, y = px + 0.5, py + 0.5
        ax, ay = a[rep, 0], a[rep, 1]
        ar = area[rep]
        w1 = ((x - ax) * (c[rep, 1] - ay) - (y - ay) * (c[rep, 0] - ax)) / ar
        w2 = ((b[rep, 0] - ax) * (y - ay) - (b[rep, 1] - ay) * (x - ax)) / ar
        w0 = 1.0 - w1 - w2
        eps = -1e-7
        inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
        rep, px, py, w0, w1, w2 = rep[inside], px[inside], py[inside], w0[inside], w1[inside], w2[inside]
        pix = py * width + px
        if depth is None:
            tri[pix] = rep
            bary[pix] = np.stack([w0, w1, w2], axis=1)
            continue
        z = w0 * depth[rep, 0] + w1 * depth[rep, 1] + w2 * depth[rep, 2]
        order = np.lexsort((z, pix))
        pix_s = pix[order]
        first_of = np.ones(len(order), bool)
        first_of[1:] = pix_s[1:] != pix_s[:-1]
        sel = order[first_of]
        pix_u, z_u = pix[sel], z[sel]
        better = z_u < zbuf[pix_u]
        sel, pix_u = sel[better], pix_u[better]
        zbuf[pix_u] = z_u[better]
        tri[pix_u] = rep[sel]
        bary[pix_u] = np.stack([w0[sel], w1[sel], w2[sel]], axis=1)
    return tri.reshape(height, width), bary.reshape(height, width, 3), \
        (zbuf.reshape(height, width) if zbuf is not None else None)


# --- the model's skin, its atlas and mirror (cached per model) -----------------------------

_CACHE: dict = {}


def _cached(model: FaceModel, key, make):
    k = (id(model), key)
    if k not in _CACHE:
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[k] = make()
    return _CACHE[k]


def skin_polygons(model: FaceModel) -> np.ndarray:
    """(P,) bool: the polygons the skin texture covers."""
    ids = [PART_NAMES.index(p) for p in SKIN_PARTS]
    return np.isin(model.polygon_part, ids)


def atlas_uv(model: FaceModel) -> np.ndarray:
    """Per-loop UVs (loops, 2) float32 for the photo head: ICT's, with the skin's two tiles (u 0..2)
    packed into one image (u / 2); every other polygon keeps ICT's UVs."""
    uv = model.loop_uv.astype(np.float32, copy=True)
    loops_skin = np.repeat(skin_polygons(model), model.polygon_sizes)
    uv[loops_skin, 0] *= 0.5
    return uv


def _skin_triangles(model: FaceModel):
    """Triangles (Ts, 3) of the skin, their polygons (Ts,) and per-corner atlas UVs (Ts, 3, 2)."""
    def make():
        skin = skin_polygons(model)
        keep = skin[model.triangle_polygon]
        tris = model.triangles[keep]
        polys = model.triangle_polygon[keep]
        # per-corner UVs: find each triangle corner's loop in its polygon
        starts, sizes = model.polygon_starts, model.polygon_sizes
        uv = atlas_uv(model)
        corner_uv = np.empty((len(tris), 3, 2), np.float32)
        for k in range(3):
            loop = np.full(len(tris), -1, np.int64)
            for j in range(4):
                has = j < sizes[polys]
                li = starts[polys] + np.minimum(j, sizes[polys] - 1)
                hit = has & (model.polygon_vertices[li] == tris[:, k]) & (loop < 0)
                loop[hit] = li[hit]
            corner_uv[:, k] = uv[loop]
        return tris, polys, corner_uv
    return _cached(model, "skin_tris", make)


def _texels(model: FaceModel, size: int):
    """The atlas' texels on the skin (cached): ``flat`` (N,) indices into the (size, 2 size) image,
    their triangles' vertices ``tv`` (N, 3) and barycentrics ``bary`` (N, 3), their looks (N,), and
    the padding: empty texels ``pad_to`` within :data:`PAD_TEXELS` of the skin and the texel
    ``pad_from`` (an index into the N) nearest each."""
    def make():
        import cv2

        tris, polys, corner_uv = _skin_triangles(model)
        xy = np.stack([corner_uv[..., 0] * (2 * size), (1.0 - corner_uv[..., 1]) * size], axis=-1)
        tri_map, bary_map = rasterize(xy, 2 * size, size)[:2]
        covered = tri_map >= 0
        flat = np.flatnonzero(covered)
        t_ids = tri_map.ravel()[flat]
        empty = (~covered).astype(np.uint8)
        dist, labels = cv2.distanceTransformWithLabels(empty, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        label_to = np.zeros(int(labels.max()) + 1, np.int64)
        label_to[labels.ravel()[flat]] = np.arange(len(flat))
        pad_to = np.flatnonzero((empty.ravel() > 0) & (dist.ravel() <= PAD_TEXELS))
        pad_from = label_to[labels.ravel()[pad_to]]
        looks = model.polygon_looks()[polys[t_ids]]
        return flat, tris[t_ids], bary_map.reshape(-1, 3)[flat].astype(np.float64), looks, pad_to, pad_from
    return _cached(model, ("texels", size), make)


def mirror_vertices(model: FaceModel) -> np.ndarray:
    """(V,) each vertex's mirror image across the face's mid-plane (x -> -x) on the neutral head."""
    def make():
        from scipy.spatial import cKDTree

        v = model.neutral.astype(np.float64)
        return cKDTree(v).query(v * [-1.0, 1.0, 1.0])[1].astype(np.int64)
    return _cached(model, "mirror", make)


def _skin_vertices(model: FaceModel) -> np.ndarray:
    return np.concatenate([model.part(p) for p in SKIN_PARTS])


# --- small image helpers -------------------------------------------------------------------


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _sample(img: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``img`` (H, W[, C]) at pixel coordinates ``xy`` (N, 2) (centres at +0.5);
    outside: the nearest edge."""
    import cv2

    n = len(xy)
    cols = 4096  # OpenCV's maps are images: at most 32767 a side
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = xy[:, 0] - 0.5
    my[:n] = xy[:, 1] - 0.5
    out = cv2.remap(np.ascontiguousarray(img), mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * cols, -1)[:n] if img.ndim == 3 else out.reshape(-1)[:n]


def _polygon_mask(shape, polygons, dilate_px: float = 0.0) -> np.ndarray:
    """uint8 mask (H, W) of filled polygons (each (K, 2) pixels), grown by ``dilate_px``."""
    import cv2

    m = np.zeros(shape, np.uint8)
    for p in polygons:
        cv2.fillPoly(m, [np.round(np.asarray(p) * 4).astype(np.int32).reshape(-1, 1, 2)], 255, lineType=cv2.LINE_8,
                     shift=2)
    if dilate_px > 0.5:
        r = int(round(dilate_px))
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return m


def _ring(upper, lower):
    return list(upper) + list(lower[::-1])[1:-1]


NOSE_RING = (168, 193, 245, 188, 174, 236, 198, 209, 49, 64, 98, 97, 2, 326, 327, 294, 279, 429, 420, 456, 399,
             412, 465, 417)  # around the nose from the bridge down the right side, the nostrils, up the left


def _features(shape, p: np.ndarray, iod: float) -> np.ndarray:
    """uint8 mask of the face's features (brows, eyes, nose, lips), grown a little: what is not
    skin-coloured there is the face, not hair."""
    m = _polygon_mask(shape, [p[_ring(R.BROW_LEFT[:5], R.BROW_LEFT[5:][::-1])],
                              p[_ring(R.BROW_RIGHT[:5], R.BROW_RIGHT[5:][::-1])]], dilate_px=0.04 * iod)
    m |= _polygon_mask(shape, [p[_ring(R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER)],
                               p[_ring(R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)]], dilate_px=0.08 * iod)
    m |= _polygon_mask(shape, [p[_ring(R.UPPER_LIP_OUTER, R.LOWER_LIP_OUTER)]], dilate_px=0.06 * iod)
    m |= _polygon_mask(shape, [p[list(NOSE_RING)]], dilate_px=0.05 * iod)
    return m


# where a face's skin shows for sure: cheeks, nose, chin (MediaPipe ids)
SKIN_SAMPLE_POINTS = (205, 425, 50, 280, 36, 266, 4, 195, 5, 199, 200, 175)


def skin_likeness(img: np.ndarray, points: np.ndarray, iod: float, oval: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float32 0..1: how much each pixel of ``img`` (H, W, 3) float 0..1 looks like this face's
    skin (1 on the features: brows, eyes, nose, lips), so hair, beards, glasses and background
    that reach inside the face outline are not painted on the skin.  The skin's colour is learnt
    from small discs on the cheeks, nose and chin (Lab median and spread); a pixel further than 3
    spreads in colour (2.5 darker, 4 lighter: shading) counts as not skin."""
    import cv2

    p = np.asarray(points, np.float64)[:, :2]
    shape = img.shape[:2]
    lab = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.float32), cv2.COLOR_RGB2Lab)
    feats = _features(shape, p, iod) > 0
    if oval is None:
        oval = _polygon_mask(shape, [p[list(R.FACE_OVAL)]])
    core = np.zeros(shape, np.uint8)
    for i in SKIN_SAMPLE_POINTS:  # small discs on the cheeks, the nose and the chin
        cv2.circle(core, (int(round(p[i, 0])), int(round(p[i, 1]))), max(1, int(round(0.12 * iod))), 255, -1)
    core = (core > 0) & (oval > 0)
    if core.sum() < 30:
        return np.ones(shape, np.float32)
    ref = lab[core]
    med = np.median(ref, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), [max(2.0, 0.06 * med[0]), 3.0, 3.0])
    d = (lab - med) / spread
    dl = np.where(d[..., 0] < 0, d[..., 0] / 3.0, d[..., 0] / 4.0)
    dist = np.sqrt(dl ** 2 + (d[..., 1] / 4.0) ** 2 + (d[..., 2] / 4.0) ** 2)
    like = np.exp(-0.5 * np.maximum(dist - 1.0, 0.0) ** 2 / 0.25).astype(np.float32)
    r = max(1, int(round(0.04 * iod)))  # keep away from the edges of hair and beards
    like = cv2.erode(like, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    soft = max(0.02 * iod, 0.7)
    like = np.maximum(like, cv2.GaussianBlur(feats.astype(np.float32), (0, 0), soft))
    return cv2.GaussianBlur(like, (0, 0), soft).astype(np.float32)


def photo_mask(shape, points: np.ndarray, iod_px: float, img: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float32 0..1: where the photo may paint the skin: inside the face outline of the
    landmarks ``points`` (478, 2+) fading over :data:`FEATHER_IOD` x ``iod_px``, outside the eye
    openings (their lash line kept: it is the lids' edge) and the open mouth (grown by 0.03 IOD),
    with soft edges, and, given the photo
    ``img`` (H, W, 3) float 0..1, where it looks like the face's skin (:func:`skin_likeness`)."""
    import cv2

    p = np.asarray(points, np.float64)[:, :2]
    oval = _polygon_mask(shape, [p[list(R.FACE_OVAL)]])
    inside = cv2.distanceTransform((oval > 0).astype(np.uint8), cv2.DIST_L2, 5)
    m = _smoothstep(inside / max(FEATHER_IOD * iod_px, 1.0))
    eyes = [_ring(R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER), _ring(R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)]
    mouth = [_ring(R.UPPER_LIP_INNER, R.LOWER_LIP_INNER)]
    for rings, (grow, soft) in ((eyes, EYE_HOLE_IOD), (mouth, MOUTH_HOLE_IOD)):
        holes = _polygon_mask(shape, [p[r] for r in rings], dilate_px=grow * iod_px)
        away = cv2.distanceTransform((holes == 0).astype(np.uint8), cv2.DIST_L2, 5)
        m *= _smoothstep(away / max(soft * iod_px, 1.0))
    if img is not None:
        m *= skin_likeness(img, p, iod_px, oval)
    return m.astype(np.float32)


def iod_px(points: np.ndarray) -> float:
    p = np.asarray(points, np.float64)[:, :2]
    left = p[[R.EYE_OUTER_LEFT, R.EYE_INNER_LEFT]].mean(0)
    right = p[[R.EYE_OUTER_RIGHT, R.EYE_INNER_RIGHT]].mean(0)
    return float(np.linalg.norm(left - right))


def iris_colour(rgb: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The irises' colour (3,) sRGB 0..1 from a photo (H, W, 3) uint8 and its landmarks (478, 2+):
    the median of the pixels inside each iris circle and the eye opening, without the pupil (the
    inner 40 %) and highlights (the brightest 15 %); None when fewer than 12 pixels show."""
    p = np.asarray(points, np.float64)[:, :2]
    h, w = rgb.shape[:2]
    samples = []
    for iris, upper, lower in ((R.IRIS_LEFT, R.EYE_LEFT_UPPER, R.EYE_LEFT_LOWER),
                               (R.IRIS_RIGHT, R.EYE_RIGHT_UPPER, R.EYE_RIGHT_LOWER)):
        centre = p[iris[0]]
        radius = float(np.linalg.norm(p[list(iris[1:])] - centre, axis=1).mean())
        if radius < 1.0:
            continue
        x0, y0 = np.maximum(np.floor(centre - radius - 1), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(centre + radius + 1), [w - 1, h - 1]).astype(int)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        d = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1]) / radius
        opening = _polygon_mask((h, w), [p[_ring(upper, lower)]])[y0:y1 + 1, x0:x1 + 1] > 0
        sel = (d < 0.95) & (d > 0.4) & opening
        px = rgb[y0:y1 + 1, x0:x1 + 1][sel].astype(np.float64)
        if len(px):
            lum = px.mean(1)
            px = px[lum <= np.quantile(lum, 0.85)]
        samples.append(px)
    px = np.concatenate(samples) if samples else np.zeros((0, 3))
    if len(px) < 12:
        return None
    return np.median(px, axis=0) / 255.0


# --- the bake ---------------------------------------------------------------------------------


def _vertex_normals(v: np.ndarray, tris: np.ndarray) -> np.ndarray:
    fn = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _vertex_looks(model: FaceModel) -> np.ndarray:
    """(V,) a look per vertex for the fill's tones: lips or brows where any polygon around it is."""
    def make():
        looks = model.polygon_looks()
        per_loop = np.repeat(looks, model.polygon_sizes)
        out = np.full(model.n_vertices, LOOKS.index("skin"), np.int64)
        for name in ("lips", "brows"):
            out[model.polygon_vertices[per_loop == LOOKS.index(name)]] = LOOKS.index(name)
        return out
    return _cached(model, "vertex_looks", make)


def _smooth_fill(model: FaceModel, verts: np.ndarray, data: np.ndarray, weight: np.ndarray,
                 prior: np.ndarray, stiffness: float = 1.0, pull: float = 0.02) -> np.ndarray:
    """Per-vertex colours (S, 3) over the skin vertices ``verts`` (S,): the smooth field that
    follows ``data`` (S, 3) where ``weight`` (S,) > 0 and relaxes to ``prior`` (S, 3) elsewhere
    (min sum w |c - d|^2 + stiffness sum_edges |c_i - c_j|^2 + pull |c - prior|^2)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    def make_graph():
        index = np.full(model.n_vertices, -1, np.int64)
        index[verts] = np.arange(len(verts))
        t = index[model.triangles]
        t = t[(t >= 0).all(1)]
        e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        e = np.unique(np.sort(e, axis=1), axis=0)
        n = len(verts)
        adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        adj = (adj + adj.T).tocsr()
        lap = sp.diags(np.asarray(adj.sum(1)).ravel()) - adj
        return lap
    lap = _cached(model, ("skin_laplacian", len(verts)), make_graph)
    a = sp.diags(weight + pull) + stiffness * lap
    rhs = weight[:, None] * data + pull * prior
    lu = splu(a.tocsc())
    return np.stack([lu.solve(rhs[:, k]) for k in range(3)], axis=1)


def bake_photo_texture(model: FaceModel, fit, rgb: np.ndarray, size: int = TEXTURE_SIZE,
                       max_face_px: int = 1024) -> PhotoTexture:
    """The skin texture of the head of ``fit`` (:class:`facemodel.photo.PhotoFit`) from its photo
    ``rgb`` (H, W, 3) uint8 (see the module docstring).  ``size``: texels per UV tile side;
    ``max_face_px``: the photo is worked on at most at this face size (a larger photo is reduced)."""
    import cv2

    rgb = np.ascontiguousarray(rgb[..., :3])
    h_img, w_img = rgb.shape[:2]
    verts = model.evaluate(fit.identity, fit.expression).astype(np.float64)
    px, depth = fit.project(verts)
    pts = np.asarray(fit.points, np.float64)[:, :2]
    iod = iod_px(pts)
    # the working image: the head's box in the photo, reduced so the face is at most max_face_px
    scale = min(1.0, max_face_px / max(float(np.ptp(pts, axis=0).max()), 1.0))
    x0, y0 = np.maximum(np.floor(px.min(0)) - 2, 0).astype(int)
    x1, y1 = np.minimum(np.ceil(px.max(0)) + 2, [w_img, h_img]).astype(int)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, w_img, h_img
    crop = rgb[y0:y1, x0:x1]
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, int(round((x1 - x0) * scale))), max(1, int(round((y1 - y0) * scale)))),
                          interpolation=cv2.INTER_AREA)
    ch, cw = crop.shape[:2]
    off = np.array([x0, y0], np.float64)
    pxw = (px - off) * scale
    ptsw = (pts - off) * scale
    # what the camera saw: a depth buffer of the head in the photo
    occ = np.concatenate([model.part(p) for p in OCCLUDING_PARTS])
    is_occ = np.zeros(model.n_vertices, bool)
    is_occ[occ] = True
    tris_all = model.triangles
    occ_tris = tris_all[is_occ[tris_all].all(1)]
    _, _, zbuf = rasterize(pxw[occ_tris], cw, ch, depth[occ_tris])
    zbuf = zbuf.astype(np.float64)
    normals = _vertex_normals(verts, tris_all)
    view = fit.camera_centre()[None] - verts
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    cos_v = np.einsum("ij,ij->i", normals, view)
    crop_f = crop.astype(np.float32) / 255.0
    mask = photo_mask((ch, cw), ptsw, iod * scale, crop_f)
    tol = DEPTH_TOLERANCE_M * fit.pose.scale

    def seen(xy, d, cos):
        """Photo weight (N,) of surface points at image positions xy (N, 2) (working image) with
        depth d (N,) and view cosine cos (N,)."""
        ix = np.clip(np.floor(xy[:, 0]).astype(np.int64), 0, cw - 1)
        iy = np.clip(np.floor(xy[:, 1]).astype(np.int64), 0, ch - 1)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < cw) & (xy[:, 1] >= 0) & (xy[:, 1] < ch)
        visible = inside & (d <= zbuf[iy, ix] + tol)
        facing = _smoothstep((cos - COS_NONE) / (COS_FULL - COS_NONE))
        return np.where(visible, facing * _sample(mask, xy), 0.0)

    # per vertex: how well the camera saw it, and its mirror image
    mirror = mirror_vertices(model)
    w_vert = np.zeros(model.n_vertices)
    sv = _skin_vertices(model)
    w_vert[sv] = seen(pxw[sv], depth[sv], cos_v[sv])
    unpainted = np.zeros(model.n_vertices, bool)
    unpainted[np.concatenate([model.part(p) for p in UNPAINTED_PARTS])] = True
    w_vert[unpainted] = 0.0
    # texels: the photo where seen, else the mirror image's, else the fill
    flat, tv, b, looks, pad_to, pad_from = _texels(model, size)
    n = len(flat)
    w_t, w_m = np.zeros(n), np.zeros(n)
    col_t, col_m = np.zeros((n, 3)), np.zeros((n, 3))
    for vids, w_out, col_out in ((tv, w_t, col_t), (mirror[tv], w_m, col_m)):
        cand = np.flatnonzero((w_vert[vids].max(axis=1) > 0) & ~unpainted[tv].any(axis=1))  # seen triangles
        vv, bb = vids[cand], b[cand]
        xy = np.einsum("nk,nkd->nd", bb, pxw[vv])
        w_out[cand] = seen(xy, np.einsum("nk,nk->n", bb, depth[vv]), np.einsum("nk,nk->n", bb, cos_v[vv]))
        col_out[cand] = _sample(crop_f, xy)
    # tones from what was seen well
    tones = {}
    for name, fallback in (("skin", None), ("lips", (1.0, 0.72, 0.72)), ("brows", (0.35, 0.3, 0.28))):
        sel = (w_t > 0.8) & (looks == LOOKS.index(name))
        if sel.sum() >= 50:
            tones[name] = np.median(col_t[sel], axis=0)
        elif name == "skin":
            tones[name] = _skin_from_points(crop_f, ptsw)
        else:
            tones[name] = tones["skin"] * np.asarray(fallback)
    # the fill: a smooth field over the skin's vertices
    w_v = w_vert[sv]
    w_vm = w_vert[mirror[sv]] * MIRROR_WEIGHT
    c_v = _sample(crop_f, pxw[sv])
    c_vm = _sample(crop_f, pxw[mirror[sv]])
    data = np.where((w_vm > w_v)[:, None], c_vm, c_v)
    wd = np.maximum(w_v, w_vm)
    wd = np.where(wd > 0.25, wd, 0.0) ** 2  # the fill follows only what was seen well (not the outline's edge)
    vlook = _vertex_looks(model)[sv]
    prior = np.where((vlook == LOOKS.index("lips"))[:, None], tones["lips"],
                     np.where((vlook == LOOKS.index("brows"))[:, None], tones["brows"], tones["skin"]))
    prior[unpainted[sv]] = tones["skin"] * np.asarray(INNER_LID)
    field_v = np.zeros((model.n_vertices, 3))
    field_v[sv] = _smooth_fill(model, sv, data, wd, prior)
    fill_t = np.einsum("nk,nkd->nd", b, field_v[tv])
    wm = w_m * MIRROR_WEIGHT * (1.0 - w_t)
    colour = w_t[:, None] * col_t + wm[:, None] * col_m + (1.0 - w_t - wm)[:, None] * fill_t
    img = np.empty((size * 2 * size, 3), np.float32)
    img[:] = tones["skin"]
    img[flat] = colour
    img[pad_to] = colour[pad_from]
    weight = np.zeros(size * 2 * size, np.float32)
    weight[flat] = w_t
    iris = iris_colour(rgb, pts)
    stats = {"texels_photo": int((w_t > 0.5).sum()), "texels_mirrored": int((wm > 0.5).sum()),
             "working_scale": round(scale, 3)}
    return PhotoTexture(image=np.clip(img.reshape(size, 2 * size, 3) * 255.0 + 0.5, 0, 255).astype(np.uint8),
                        weight=weight.reshape(size, 2 * size),
                        skin=np.asarray(tones["skin"], np.float64), brows=np.asarray(tones["brows"], np.float64),
                        lips=np.asarray(tones["lips"], np.float64),
                        iris=np.asarray(iris if iris is not None else DEFAULT_IRIS, np.float64), stats=stats)


def _skin_from_points(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A skin tone (3,) from small patches at the cheeks and forehead landmarks (when too little
    skin was seen on the texels)."""
    ids = [R.CHEEK_LEFT, R.CHEEK_RIGHT, 151, 9, 50, 280]
    xy = np.asarray(points, np.float64)[ids, :2]
    offs = np.array([(dx, dy) for dx in (-2, 0, 2) for dy in (-2, 0, 2)], np.float64)
    samples = _sample(img, (xy[:, None] + offs[None]).reshape(-1, 2))
    return np.median(samples, axis=0)


__all__ = ["PhotoTexture", "bake_photo_texture", "rasterize", "atlas_uv", "skin_polygons", "mirror_vertices",
           "photo_mask", "iris_colour", "iod_px", "SKIN_PARTS", "TEXTURE_SIZE"]
