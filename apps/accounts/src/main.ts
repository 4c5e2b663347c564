import 'reflect-metadata';
import { loadConfigOrExit, runService } from '@paynet/platform';
import { AppModule } from './app.module.js';
import { append_only_tables, migrations } from './migrations/index.js';
import { accounts_config_schema } from './config.js';

const config = loadConfigOrExit(accounts_config_schema);
await runService({ service: 'accounts', config, port: config.ACCOUNTS_PORT, module: AppModule.forConfig(config), migrations, append_only_tables });
