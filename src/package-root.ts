import path from 'node:path';

// tsconfig's rootDir is the package root and its outDir `dist`: this file runs as src/package-root.ts
// (tsx, ts-jest) or as dist/src/package-root.js (the build), so the root is one or two folders up.
const SOURCE_FOLDER = path.dirname(__dirname);

/** The folder holding package.json, public/ and flows/, in either layout. */
export const PACKAGE_ROOT = path.basename(SOURCE_FOLDER) === 'dist' ? path.dirname(SOURCE_FOLDER) : SOURCE_FOLDER;
