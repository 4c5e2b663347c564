import { base_config_schema, port } from '@paynet/platform';

export const accounts_config_schema = base_config_schema.extend({
  ACCOUNTS_PORT: port.default(3001),
});
export type AccountsConfig = ReturnType<typeof accounts_config_schema.parse>;
