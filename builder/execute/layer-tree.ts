/**
 * The tree of a layer this build just made, while the layer is identified behind the next steps (lazy layer
 * identity, workspace.ts commitUpper): the steps after it need its files, not its diffID (their keys chain on the
 * step key), so they run on the step's upper dir where it was written. Once the diffID is known and no step uses
 * the dir (a step holds it from before it reads or mounts it until it has unmounted it), the dir is moved into
 * the store as that layer's snapshot; a step that asks after that gets the snapshot. A dir is never moved while a
 * step could still resolve a path into it.
 *
 * Left behind on failure: nothing of its own. A tree whose layer was never identified (its pack failed) stays in
 * the step's scratch dir, which build() removes; a failed move leaves it there too.
 */

/** A use of the tree: `dir` stays where it is until `release` (idempotent) is called. */
export interface TreeHold {
  readonly dir: string;
  release(): void;
}

export class LayerTree {
  #holds = 0;
  #free: (() => void)[] = [];
  #installed: Promise<string> | undefined;
  #moved!: () => void;
  /** Settles (never rejects) once the move was tried: the tree is in the store, or the move failed. */
  readonly moved = new Promise<void>((resolve) => { this.#moved = resolve; });

  /** `dir`: where the step wrote the tree (its upper dir). */
  constructor(readonly dir: string) {}

  /** Returns the tree's dir, kept there until the hold is released: the step's upper dir, or the snapshot once moved. */
  async hold(): Promise<TreeHold> {
    if (this.#installed) return { dir: await this.#installed, release: () => undefined };
    this.#holds++;
    let released = false;
    return {
      dir: this.dir,
      release: () => {
        if (released) return;
        released = true;
        if (--this.#holds === 0) for (const f of this.#free.splice(0)) f();
      },
    };
  }

  /**
   * Moves the tree into place with `install` (once identified) as soon as no step holds it; returns the snapshot's
   * path. Called once. Holds asked for from then on wait for the move and get its result.
   */
  async installWhenFree(install: () => Promise<string>): Promise<string> {
    while (this.#holds > 0) await new Promise<void>((resolve) => this.#free.push(resolve));
    // No await between the check and this: a hold asked for from here on waits for the move.
    this.#installed = install();
    this.#installed.then(this.#moved, this.#moved);
    return this.#installed;
  }
}
