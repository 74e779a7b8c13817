// @peernet/pairing: pairing two nodes with a short invite code or a one-scan
// URI, as pure functions. This file is the whole public surface.
export { createInviteCode, nameplateHint, nameplateMatches, parseInviteCode } from './code.js';
export type { CreateInviteCodeOptions, InviteCode } from './code.js';
export { formatPairingUri, isPairingUri, PAIRING_SECRET_LENGTH, parsePairingUri } from './uri.js';
export type { PairingUri } from './uri.js';
export { INVITE_WORDS } from './words.js';

export {
  PAIRING_HANDLERS, PAIRING_VERSION, answerJoin, checkAnswer, checkConfirmed, confirmationResult, meetingPoint, readJoinRequest, refuseJoin,
  startJoin,
} from './protocol.js';
export type { JoinAnswer, JoinRefusal, JoinRequest, JoinState, PairingSecret, PairingSession } from './protocol.js';
export { shortAuthenticationString } from './sas.js';
export { Invites } from './inviter.js';
export type { Invite, InviteOptions, PairedPeer } from './inviter.js';
export { joinInvite } from './joiner.js';
export type { JoinHost, JoinOptions, JoinResult } from './joiner.js';
export type { PairPeer, PairingAdmission, PairingChannel, PairingLogger } from './channel.js';
