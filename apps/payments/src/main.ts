import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@paynet/platform';
import { AppModule } from './app.module.js';
import { migrations } from './migrations/index.js';
import { payments_config_schema } from './config.js';

const config = loadConfigOrExit(payments_config_schema);
await runService({ service: 'payments', config, port: config.PAYMENTS_PORT, module: AppModule.forConfig(config), migrations });
