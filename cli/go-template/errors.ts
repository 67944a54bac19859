import { TsbuildError } from '../../layer-store/index.js';

/**
 * A template that does not parse, or fails while it runs (an unknown field or function, a bad argument). The
 * message is Go's (`template: NAME:LINE: …`); callers wrap it in one usage error naming the template.
 */
export class TemplateError extends TsbuildError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'TemplateError';
  }
}
