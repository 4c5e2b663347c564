import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@paynet/platform';
import { AppModule } from './app.module.js';
import { migrations } from './migrations/index.js';
import { push_config_schema } from './config.js';

const config = loadConfigOrExit(push_config_schema);
await runService({ service: 'push', config, port: config.PUSH_PORT, module: AppModule.forConfig(config), migrations });
