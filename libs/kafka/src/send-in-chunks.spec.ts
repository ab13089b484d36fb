import type { Producer, TopicMessages } from 'kafkajs';
import { sendInChunks } from './send-in-chunks';

/** A producer that keeps each produce call's messages, per topic. */
function recordingProducer() {
  const calls: TopicMessages[][] = [];
  const producer = { sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => void calls.push(topicMessages) } as unknown as Producer;
  return { producer, calls };
}

describe('sendInChunks', () => {
  it('puts at most maxChunkMessages messages in one produce call, across topics, in order', async () => {
    const { producer, calls } = recordingProducer();
    const messages = (topic: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: 'k', value: `${topic}-${i}` }));

    await sendInChunks(producer, [{ topic: 'jobs', messages: messages('jobs', 700) }, { topic: 'events', messages: messages('events', 400) }], { maxChunkMessages: 500 });

    expect(calls.map((call) => call.map(({ topic, messages }) => [topic, messages.length]))).toEqual([
      [['jobs', 500]],
      [['jobs', 200], ['events', 300]],
      [['events', 100]],
    ]);
    const sent = calls.flat().flatMap(({ messages }) => messages.map((m) => m.value));
    expect(sent).toEqual([...messages('jobs', 700), ...messages('events', 400)].map((m) => m.value));
  });
});
