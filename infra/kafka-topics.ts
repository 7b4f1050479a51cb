import type { ITopicConfig } from 'kafkajs';

/**
 * Every topic the platform writes, with its partition count. Created by the launcher and by each
 * service at start-up (ensureTopics); the broker's auto-creation is off.
 */
export const platformTopics: ITopicConfig[] = [
  // Key = stream id, so one schedule's events stay ordered in one partition.
  { topic: 'booking.events', numPartitions: 6, replicationFactor: 1 },
  { topic: 'booking.events.dlq', numPartitions: 1, replicationFactor: 1 },
  // Booking rush (docs/adr/0015): key = schedule id, so one schedule's requests are decided in order.
  { topic: 'booking.requests', numPartitions: 6, replicationFactor: 1 },
];
