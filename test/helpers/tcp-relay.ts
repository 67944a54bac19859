import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface TcpRelay {
  /** `127.0.0.1:PORT`: connect here to reach the target. */
  readonly host: string;
  /** TCP connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * Starts a TCP relay on 127.0.0.1 to `targetPort` on 127.0.0.1 that counts the connections clients open: how a
 * test sees whether a client reuses keep-alive connections. stop() closes the server and every socket.
 */
export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  let count = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => { sockets.add(s); s.on('close', () => sockets.delete(s)); };
  const server: Server = createServer((client) => {
    count++;
    track(client);
    const up = connect(targetPort, '127.0.0.1');
    track(up);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    pipeline(client, up).catch(() => undefined);
    pipeline(up, client).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
