import { FileHasher, type FileHashJob } from '../../layer-store/store/file-hasher.js';

/** Blob size from which the tests' hashers take a blob (8 MiB, to keep the tests small). */
export const TEST_HASHER_MIN_BYTES = 8 * 1024 * 1024;

/** The real FileHasher, counting the jobs it was given (to show which path putBlob took). */
export class CountingHasher extends FileHasher {
  jobs = 0;
  constructor(minBytes = TEST_HASHER_MIN_BYTES) {
    super({ minBytes });
  }
  override start(path: string): FileHashJob {
    this.jobs++;
    return super.start(path);
  }
}
