export { computeStats, diffVersions, jensenShannon, psi, sizeBucket, validate } from './analysis.ts';
export { cacheDirFor, type DatasetsConfig, datasetsEnv } from './config.ts';
export { type DatasetRef, DatasetStore, type VersionData, type VersionRef } from './datasets.ts';
export { readImageHeader } from './image-header.ts';
export { createServer, datasetsProgram, datasetsTools } from './server.ts';
export type { DatasetsDeps } from './tools/define.ts';
