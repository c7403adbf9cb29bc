// Reads an .hlog with HdrHistogram's own HistogramLogReader (Debian's libhdrhistogram-java) and
// prints what tests/hlog_java_check.sh compares with what ws_write_sample_hlog recorded:
//   <tag> count=N p50=V p90=V p99=V p999=V max=V    one line per tag (sorted), all its intervals
//   interval <tag> start_ms=T bytes=N crc32=C        one line per interval, in log order
// where bytes/crc32 describe Java re-encoding the histogram it decoded (encodeIntoByteBuffer):
// they equal our encode_v2 bytes' only if both sides agree on every count and header field.
import java.io.BufferedReader;
import java.io.FileReader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HlogCheck {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: HlogCheck <file.hlog>");
      System.exit(2);
    }
    // HistogramLogReader returns null, as at the end of the file, on a line it cannot decode, so
    // count the interval lines independently and fail on a short read.
    int expected = 0;
    try (BufferedReader r = new BufferedReader(new FileReader(args[0]))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isEmpty() && !line.startsWith("#") && !line.startsWith("\"")) expected++;
      }
    }

    Map<String, Histogram> sums = new TreeMap<>();
    List<String> intervals = new ArrayList<>();
    HistogramLogReader reader = new HistogramLogReader(args[0]);
    EncodableHistogram decoded;
    while ((decoded = reader.nextIntervalHistogram()) != null) {
      Histogram h = (Histogram) decoded;
      String tag = h.getTag() == null ? "(untagged)" : h.getTag();
      ByteBuffer buffer = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
      int length = h.encodeIntoByteBuffer(buffer);
      CRC32 crc = new CRC32();
      crc.update(buffer.array(), 0, length);
      intervals.add(String.format("interval %s start_ms=%d bytes=%d crc32=%08x", tag,
          h.getStartTimeStamp(), length, crc.getValue()));
      Histogram sum = sums.get(tag);
      if (sum == null) {
        sums.put(tag, h.copy());
      } else {
        sum.add(h);
      }
    }
    if (intervals.size() != expected) {
      System.err.println("HlogCheck: decoded " + intervals.size() + " of " + expected
          + " interval lines; HistogramLogReader stopped at an undecodable line");
      System.exit(1);
    }
    for (Map.Entry<String, Histogram> e : sums.entrySet()) {
      Histogram h = e.getValue();
      System.out.println(e.getKey() + " count=" + h.getTotalCount()
          + " p50=" + h.getValueAtPercentile(50.0) + " p90=" + h.getValueAtPercentile(90.0)
          + " p99=" + h.getValueAtPercentile(99.0) + " p999=" + h.getValueAtPercentile(99.9)
          + " max=" + h.getMaxValue());
    }
    for (String line : intervals) System.out.println(line);
  }
}
