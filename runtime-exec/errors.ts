import { TsbuildError, type TsbuildErrorOptions } from '../layer-store/core/index.js';

/**
 * The process of a step exited non-zero. `run()` itself returns the exit code; the builder throws this
 * with the instruction's location, the exit code and the last lines of output (`tail`).
 */
export class RunFailedError extends TsbuildError {
  constructor(readonly exitCode: number, readonly tail: string, what = 'process', o: TsbuildErrorOptions = {}) {
    super('RUN_FAILED', `${what} did not complete successfully: exit code ${exitCode}${tail ? `\n${tail}` : ''}`, {
      hint: 'the command failed inside the container; its last lines of output are shown above',
      ...o,
    });
    this.name = 'RunFailedError';
  }
}

/** No OCI runtime (and no usable fallback) is installed. */
export class RuntimeMissingError extends TsbuildError {
  constructor(message: string, o: TsbuildErrorOptions = {}) {
    super('RUNTIME_MISSING', message, {
      hint: 'install runc (Debian/Ubuntu: apt-get install -y runc) or util-linux (unshare) and run as root, or pass --runtime /path/to/runc',
      ...o,
    });
    this.name = 'RuntimeMissingError';
  }
}

/** The container could not be set up or started (overlay mount, bundle, runc create/start, exec not found). */
export class ContainerStartError extends TsbuildError {
  constructor(message: string, o: TsbuildErrorOptions = {}) {
    super('RUN_FAILED', message, { hint: 'the container could not be started; check the command and the image', ...o });
    this.name = 'ContainerStartError';
  }
}

/** A USER (name, uid, name:group, uid:gid) that the image's /etc/passwd or /etc/group does not define. */
export class UserNotFoundError extends TsbuildError {
  constructor(readonly user: string, message: string, o: TsbuildErrorOptions = {}) {
    super('BUILD', message, {
      hint: 'create the user in an earlier step (e.g. RUN adduser -D NAME) or use a numeric uid:gid',
      ...o,
    });
    this.name = 'UserNotFoundError';
  }
}

/** A foreign platform was asked for but no binfmt_misc handler (qemu) is registered for it. */
export class BinfmtMissingError extends TsbuildError {
  constructor(readonly platform: string, message: string, hint: string, o: TsbuildErrorOptions = {}) {
    super('UNSUPPORTED', message, { hint, ...o });
    this.name = 'BinfmtMissingError';
  }
}
