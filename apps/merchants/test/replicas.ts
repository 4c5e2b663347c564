import type { MerchantObject } from '@paynet/contracts';
import { CredentialCache, ReplicaCensus } from '@paynet/platform';
import type { PaynetClient } from '@paynet/sdk';
import { type InProcessStack, merchantClient, startInProcess, TcpProxy, waitFor } from '@paynet/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../src/app.module.js';
import { merchants_config_schema } from '../src/config.js';

export type Replica = { url: string; app: NestExpressApplication };

/** Three merchants replicas on one stack (accounts beside as a process): `cut` reaches NATS through a relay the test can cut. */
export interface Replicas {
  stack: InProcessStack;
  proxy: TcpProxy;
  a: Replica;
  b: Replica;
  cut: Replica;
  /** `merchant`'s key, signing requests to one replica. */
  through(replica: Replica, merchant: MerchantObject): PaynetClient;
}

const definition = { service: 'merchants' as const, schema: merchants_config_schema, module: AppModule.forConfig };

/** Starts the replicas before the spec's tests (once every one hears the others and its invalidations) and stops them after. */
export function useReplicas(timeout_ms: number): Replicas {
  const world = {
    through: (replica: Replica, merchant: MerchantObject) => merchantClient({ urls: { merchants: replica.url }, adminToken: world.stack.adminToken }, merchant),
  } as Replicas;
  beforeAll(async () => {
    world.stack = await startInProcess([definition], { neighbours: ['accounts'] });
    world.proxy = await TcpProxy.start(world.stack.nats.url);
    world.a = { url: world.stack.urls['merchants'] as string, app: world.stack.apps['merchants'] as NestExpressApplication };
    world.b = await world.stack.startReplica(definition);
    world.cut = await world.stack.startReplica({ ...definition, env: { NATS_URL: world.proxy.urlFor(world.stack.nats.url) } });
    const all = [world.a, world.b, world.cut];
    await waitFor(() => all.every(({ app }) => app.get(ReplicaCensus).replicas === 3 && app.get(CredentialCache).hearing()), {
      description: 'every replica hears the others and its invalidations',
      timeout_ms,
    });
  });
  afterAll(async () => {
    await world.proxy?.close();
    await world.stack?.stop();
  });
  return world;
}
