// @peernet/pake: CPace (CPACE-RISTR255-SHA512, draft-irtf-cfrg-cpace-21), a
// balanced PAKE as pure functions. This file is the whole public surface.
export { CPACE_ISK_LENGTH, CPACE_MESSAGE_LENGTH, CPACE_SUITE, cpaceFinish, cpaceInitiate, cpaceRespond, cpaceStartSymmetric } from './pake.js';
export type { CpaceOptions, CpacePeerMessage, CpaceResponse, CpaceStarted, CpaceState } from './pake.js';
export { CPACE_TAG_LENGTH, cpaceKeyConfirmation } from './confirm.js';
export type { CpaceConfirmation } from './confirm.js';
