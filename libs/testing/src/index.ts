export { ensureBuilt } from './build.js';
export { adminFetch, jsonFetch, type AdminFetchOptions, type FetchResult, type JsonFetchOptions, type JsonObject, type JsonValue } from './http.js';
export { createTestDatabase, testInfra, type TestDatabase, type TestInfra } from './infra.js';
export { randomSuffix, uniqueDatabaseName, uniqueNatsPrefix } from './names.js';
export { deleteNatsStreams } from './nats-cleanup.js';
export { startStack, type Stack, type StartStackOptions } from './stack.js';
export { waitFor, type WaitForOptions } from './wait-for.js';
export { workspaceRoot } from './workspace.js';
export { startInProcess, type InProcessOptions, type InProcessStack, type ServiceDefinitionForTest } from './in-process.js';
