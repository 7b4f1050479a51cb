import { describe, expect, it } from 'vitest';
import { differences, type Inventory } from '../support/test-run-inventory.ts';

const inventory = (overrides: Partial<Inventory> = {}): Inventory => ({
  databases: ['booking', 'postgres'],
  slots: ['catalog_slot'],
  topics: ['booking.events'],
  groups: ['projections.redis'],
  connectors: ['catalog-source'],
  indices: ['appointments_v1'],
  aliases: ['appointments->appointments_v1'],
  redisKeys: 10,
  platformEvents: 5,
  platformTopicRecords: 5,
  ...overrides,
});

describe('test run inventory: what counts as changed', () => {
  it('given nothing changed, reports nothing', () => {
    expect(differences(inventory(), inventory())).toEqual([]);
  });

  it('given names the run added, reports each kind left behind', () => {
    const after = inventory({
      topics: ['booking.events', 'x.events'],
      groups: ['projections.redis', 'x-group'],
    });
    expect(differences(inventory(), after)).toEqual([
      'topics left behind: x.events',
      'groups left behind: x-group',
    ]);
  });

  it('given platform data removed, reports it, except a consumer group that vanished by itself', () => {
    const after = inventory({ databases: ['postgres'], groups: [] });
    expect(differences(inventory(), after)).toEqual(['databases removed: booking']);
  });

  it('given writes to the platform event store or its topic, or new persistent keys, reports the counts', () => {
    const after = inventory({ redisKeys: 11, platformEvents: 6, platformTopicRecords: 7 });
    expect(differences(inventory(), after)).toEqual([
      'redisKeys: 10 before, 11 after',
      'platformEvents: 5 before, 6 after',
      'platformTopicRecords: 5 before, 7 after',
    ]);
  });
});
