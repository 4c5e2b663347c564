import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@paynet/platform';
import { AppModule } from './app.module.js';
import { migrations } from './migrations/index.js';
import { merchants_config_schema } from './config.js';

const config = loadConfigOrExit(merchants_config_schema);
await runService({ service: 'merchants', config, port: config.MERCHANTS_PORT, module: AppModule.forConfig(config), migrations });
