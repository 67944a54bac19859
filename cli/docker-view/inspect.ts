/**
 * Docker's `image inspect` document of a stored image (moby api/types/image InspectResponse as docker 28 / API
 * 1.50 writes it), derived from the OCI manifest and config. A pure function of the image and what the store knows
 * about it (its names, size); the shape carries Go's types so templates and JSON behave as docker's do.
 */
import {
  familiarRepository, splitTagName, type ContainerConfig, type Descriptor, type StoredImage,
} from '../../layer-store/index.js';
import { goMap, goNil, goStruct, marshalJson } from '../go-template/index.js';
import { rfc3339Nano } from './human.js';

/** What dockerImageInspect needs besides the image. */
export interface DockerInspectOptions {
  /** Bytes of the image's blobs as stored (manifest, config and compressed layers), as docker's containerd store counts. */
  readonly size: number;
  /** RFC 3339 time the image was last tagged (default: Go's zero time, as docker prints for an untagged image). */
  readonly lastTagTime?: string;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Returns a name as docker prints it: `docker.io/library/alpine:3` → `alpine:3`. */
export function familiarName(name: string): string {
  const { repository, tag } = splitTagName(name);
  return `${familiarRepository(repository)}:${tag}`;
}

/** Returns docker's Config (DockerOCIImageConfig): the OCI config's runtime fields, all omitempty, nil when absent. */
function dockerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  const strs = (v: readonly string[] | null | undefined): string[] => (v ? [...v] : goNil([]));
  const set = (v: Record<string, unknown> | null | undefined): Record<string, unknown> =>
    v ? goMap(Object.fromEntries(Object.keys(v).map((k) => [k, goStruct({}, [])])), goStruct({}, [])) : goNil(goMap({}));
  const hc = cfg.Healthcheck;
  const health = hc
    ? goStruct({
      Test: strs(hc.Test), Interval: hc.Interval ?? 0, Timeout: hc.Timeout ?? 0, StartPeriod: hc.StartPeriod ?? 0,
      StartInterval: hc.StartInterval ?? 0, Retries: hc.Retries ?? 0,
    }, ['Test', 'Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'])
    : null;
  return goStruct({
    User: cfg.User ?? '',
    ExposedPorts: set(cfg.ExposedPorts),
    Env: strs(cfg.Env),
    Entrypoint: strs(cfg.Entrypoint),
    Cmd: strs(cfg.Cmd),
    Volumes: set(cfg.Volumes),
    WorkingDir: cfg.WorkingDir ?? '',
    Labels: cfg.Labels ? goMap({ ...cfg.Labels }, '') : goNil(goMap({}, '')),
    StopSignal: cfg.StopSignal ?? '',
    ArgsEscaped: cfg.ArgsEscaped ?? false,
    Healthcheck: health,
    OnBuild: strs(cfg.OnBuild),
    Shell: strs(cfg.Shell),
  }, ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell']);
}

/**
 * Returns docker's `image inspect` object for `img`: Id (the config digest, docker's image ID), RepoTags and
 * RepoDigests (familiar names; a digest per name, with the manifest digest), Parent and DockerVersion (empty: no
 * legacy builder), Comment (the last history entry's), Created, Author, Config, Architecture, Variant, Os,
 * OsVersion, Size, GraphDriver, RootFS (the diff IDs), Metadata.LastTagTime and Descriptor (the manifest's, as
 * docker's containerd store adds). Fields docker marks omitempty are left out of its JSON when empty.
 */
export function dockerImageInspect(img: StoredImage, o: DockerInspectOptions): Record<string, unknown> {
  const c = img.config;
  const repoTags = [...new Set(img.names.map(familiarName))];
  const repoDigests = [...new Set(img.names.map((n) => `${familiarRepository(splitTagName(n).repository)}@${img.descriptor.digest}`))];
  const hist = c.history ?? [];
  const desc: Descriptor = img.descriptor;
  const descriptor: Record<string, unknown> = goStruct({
    mediaType: desc.mediaType, digest: desc.digest, size: desc.size,
    ...(desc.annotations ? { annotations: goMap({ ...desc.annotations }, '') } : {}),
    ...(desc.platform ? { platform: { ...desc.platform } } : {}),
  }, []);
  return goStruct({
    Id: img.id,
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Parent: '',
    Comment: hist.length > 0 ? hist[hist.length - 1]!.comment ?? '' : '',
    Created: c.created !== undefined ? rfc3339Nano(c.created) : '',
    DockerVersion: '',
    Author: c.author ?? '',
    Config: dockerConfig(c.config),
    Architecture: c.architecture,
    Variant: c.variant ?? '',
    Os: c.os,
    OsVersion: c['os.version'] ?? '',
    Size: o.size,
    GraphDriver: goStruct({ Data: goNil(goMap({}, '')), Name: 'overlay' }, []),
    RootFS: goStruct({ Type: c.rootfs.type, Layers: [...c.rootfs.diff_ids] }, ['Type', 'Layers']),
    Metadata: goStruct({ LastTagTime: o.lastTagTime ?? ZERO_TIME }, []),
    Descriptor: descriptor,
  }, ['Created', 'Variant', 'OsVersion', 'Descriptor']);
}

/** Returns inspect objects as `docker image inspect` prints them: a JSON array, 4-space indent, HTML escaped. */
export function formatInspectJson(objs: readonly unknown[]): string {
  return marshalJson(objs, { indent: '    ', escapeHtml: true }) + '\n';
}
