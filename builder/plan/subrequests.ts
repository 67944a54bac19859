/**
 * BuildKit's subrequest definitions (frontend/subrequests: `frontend.subrequests.describe` lists them), in the JSON
 * shape buildx prints for `--call=subrequests.describe,format=json`: the ones the Dockerfile frontend answers.
 */

/** BuildKit's subrequests.Named. */
export interface SubrequestNamed {
  readonly name: string;
  readonly description: string;
}

/** BuildKit's subrequests.Request (no field is omitted when empty: `null` as Go prints a nil slice). */
export interface Subrequest {
  readonly name: string;
  readonly version: string;
  readonly type: 'rpc';
  readonly description: string;
  readonly opts: readonly SubrequestNamed[] | null;
  readonly inputs: readonly SubrequestNamed[] | null;
  readonly metadata: readonly SubrequestNamed[] | null;
  readonly refs: readonly SubrequestNamed[] | null;
}

const RESULT_METADATA: readonly SubrequestNamed[] = [{ name: 'result.json', description: '' }, { name: 'result.txt', description: '' }];

/** What BuildKit's Dockerfile frontend answers to `frontend.subrequests.describe`, in its order. */
export const SUBREQUESTS: readonly Subrequest[] = [
  {
    name: 'frontend.outline', version: '1.0.0', type: 'rpc', description: 'List all parameters current build target supports',
    opts: [{ name: 'target', description: 'Target build stage' }], inputs: null, metadata: RESULT_METADATA, refs: null,
  },
  {
    name: 'frontend.targets', version: '1.0.0', type: 'rpc', description: 'List all targets current build supports',
    opts: [], inputs: null, metadata: RESULT_METADATA, refs: null,
  },
  {
    name: 'frontend.subrequests.describe', version: '1.0.0', type: 'rpc', description: 'List available subrequest types',
    opts: null, inputs: null, metadata: RESULT_METADATA, refs: null,
  },
];
