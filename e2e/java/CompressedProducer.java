import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A producer written in another language, as the platform's users have them: the Apache Kafka Java
 * client, run from source (java -cp 'tools/kafka/.cache/lib/*' CompressedProducer.java BROKERS TOPIC).
 * Reads lines "codec TAB key TAB value" from standard input and produces each codec's records through a
 * producer of its own with that compression.type (gzip, snappy, lz4, zstd), lingering so that they
 * share a compressed batch; exits non-zero if the broker refuses any of them.
 */
public class CompressedProducer {
  public static void main(String[] args) throws Exception {
    Map<String, List<String[]>> byCodec = new LinkedHashMap<>();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.isEmpty()) continue;
      String[] fields = line.split("\t", 3);
      byCodec.computeIfAbsent(fields[0], codec -> new ArrayList<>()).add(fields);
    }
    for (Map.Entry<String, List<String[]>> entry : byCodec.entrySet()) {
      Properties settings = new Properties();
      settings.put("bootstrap.servers", args[0]);
      settings.put("compression.type", entry.getKey());
      settings.put("linger.ms", "100");
      settings.put("key.serializer", StringSerializer.class.getName());
      settings.put("value.serializer", StringSerializer.class.getName());
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(settings)) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (String[] record : entry.getValue()) sent.add(producer.send(new ProducerRecord<>(args[1], record[1], record[2])));
        for (Future<RecordMetadata> each : sent) each.get();
      }
      System.out.println("produced " + entry.getValue().size() + " with " + entry.getKey());
    }
  }
}
