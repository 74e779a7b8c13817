'use strict';
module.exports = {
  ...require('../../tooling/jest/preset.cjs')(__dirname),
  // Blocks run one at a time, each in its own process; some wait on timers of their own.
  testTimeout: 60000,
};
