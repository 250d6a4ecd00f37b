/**
 * DAA DAS AAA AAS AAM AAD for every AL value with each AF/CF input, AAM/AAD with bases other
 * than 10, and AAM 0 (#DE). Only the flags the SDM defines are compared (OF after DAA/DAS;
 * SF ZF PF OF after AAA/AAS; OF AF CF after AAM/AAD are undefined). Expected values: the host
 * CPU in 32-bit mode, where these instructions exist (test/cpu/fixtures/bcd.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('bcd', 'decimal adjust instructions match the host CPU');
