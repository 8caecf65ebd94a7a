/** What a node does with a platform package on one pass (src/core/nodes/rollout.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  haltStillHolds,
  interruptedInstall,
  rollStep,
  type PlatformPackage,
} from '../../src/core/nodes/index.js';

const pkg = (more: Partial<PlatformPackage> = {}): PlatformPackage => ({
  app: 'echo',
  sha256: 'new',
  autostart: true,
  rollingNode: null,
  rollingUp: false,
  halted: null,
  ...more,
});
const none = new Set<string>();

test('a node that has the package, or its own unpublished install, leaves it', () => {
  assert.equal(rollStep(pkg(), 'new', 'b', none), 'current');
  assert.equal(rollStep(pkg(), null, 'b', none), 'own');
  // Its own install wins over a halt or a roll: it is published first.
  assert.equal(
    rollStep(pkg({ halted: 'x', rollingNode: 'c', rollingUp: true }), null, 'b', none),
    'own',
  );
});

test('a free package is taken, by a node that has an older one or none', () => {
  assert.equal(rollStep(pkg(), 'old', 'b', none), 'take');
  assert.equal(rollStep(pkg(), undefined, 'b', none), 'take');
});

test('one node at a time: another node whose lease runs holds the roll', () => {
  assert.equal(rollStep(pkg({ rollingNode: 'c', rollingUp: true }), 'old', 'b', none), 'wait');
});

test('a roll held by a node whose lease ran out, or by this node, is taken', () => {
  assert.equal(rollStep(pkg({ rollingNode: 'c', rollingUp: false }), 'old', 'b', none), 'take');
  // Its own from before a restart: it goes on.
  assert.equal(rollStep(pkg({ rollingNode: 'b', rollingUp: true }), 'old', 'b', none), 'take');
});

test('a halted package is installed nowhere, whoever holds the roll', () => {
  assert.equal(rollStep(pkg({ halted: 'node c: not ready' }), 'old', 'b', none), 'halted');
  assert.equal(rollStep(pkg({ halted: 'node c: not ready' }), undefined, 'b', none), 'halted');
  assert.equal(
    rollStep(pkg({ halted: 'x', rollingNode: 'b', rollingUp: true }), 'old', 'b', none),
    'halted',
  );
});

test('bytes this node found wrong are not tried again; a newer package is', () => {
  const failed = new Set(['new']);
  assert.equal(rollStep(pkg(), 'old', 'b', failed), 'failed');
  assert.equal(rollStep(pkg({ sha256: 'newer' }), 'old', 'b', failed), 'take');
});

test('the halt alarm holds while the package is halted; a new package or an uninstall ends it', () => {
  assert.equal(haltStillHolds([pkg({ halted: 'x' })], 'echo'), true);
  assert.equal(haltStillHolds([pkg()], 'echo'), false, 'replaced: its halt was cleared');
  assert.equal(haltStillHolds([pkg({ app: 'other', halted: 'x' })], 'echo'), false);
  assert.equal(haltStillHolds([], 'echo'), false, 'uninstalled');
});

test('an install cut off by a stop: finished, rolled back (taken again later), or by hand', () => {
  assert.equal(interruptedInstall('new', 'new', 'old'), 'installed');
  assert.equal(interruptedInstall('old', 'new', 'old'), 'rolled-back', 'not published');
  assert.equal(interruptedInstall('other', 'new', 'old'), 'by-hand');
  assert.equal(interruptedInstall('old', undefined, 'old'), 'rolled-back');
});
