'use strict';
const path = require('node:path');
// Shared test data (Noise vectors) lives beside the repository, in ../shared.
process.env.PEERNET_SHARED_DIR ??= path.resolve(__dirname, '../../../shared');
