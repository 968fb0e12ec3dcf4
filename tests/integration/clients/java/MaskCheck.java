import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.Properties;

/**
 * Reads the masking tests' table `mcust` through pgjdbc and prints every row,
 * one line each, tab-separated, each value in a canonical text form that
 * tests/integration/test_masking.py parses and checks against the masking
 * spec.
 *
 * Args: host port database user password mode repeats
 *   mode: extended (prepareThreshold=1, so from the second run on the
 *         statement is a named server-side one and pgjdbc asks for binary
 *         results of the types it reads in binary) or simple
 *         (preferQueryMode=simple: text only).
 * Output: "row <run> id email ssn card phone birth salary ref note tags doc photo ts"
 *         lines, "rows <run> <n>" after each run, "done" at the end.
 *         NULL is printed as <NULL>.
 */
public final class MaskCheck {
  private static final String NULL = "<NULL>";

  public static void main(String[] a) throws Exception {
    if (a.length < 7) {
      System.err.println("usage: MaskCheck host port db user password extended|simple repeats");
      System.exit(2);
    }
    Properties p = new Properties();
    p.setProperty("user", a[3]);
    p.setProperty("password", a[4]);
    p.setProperty("sslmode", "disable");
    p.setProperty("prepareThreshold", "1");
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "60");
    if (a[5].equals("simple")) {
      p.setProperty("preferQueryMode", "simple");
    }
    int repeats = Integer.parseInt(a[6]);
    String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[2];
    try (Connection c = DriverManager.getConnection(url, p)) {
      for (int run = 0; run < repeats; run++) {
        try (PreparedStatement s = c.prepareStatement("SELECT * FROM mcust ORDER BY id");
             ResultSet rs = s.executeQuery()) {
          dump(run, rs);
        }
      }
    }
    System.out.println("done");
  }

  private static String str(Object o) {
    return o == null ? NULL : o.toString();
  }

  private static void dump(int run, ResultSet rs) throws SQLException {
    int n = 0;
    while (rs.next()) {
      StringBuilder b = new StringBuilder("row\t").append(run);
      b.append('\t').append(rs.getInt("id"));
      for (String col : new String[] {"email", "ssn", "card", "phone", "birth"}) {
        b.append('\t').append(str(rs.getString(col)));
      }
      BigDecimal salary = rs.getBigDecimal("salary");
      b.append('\t').append(salary == null ? NULL : salary.toPlainString());
      b.append('\t').append(str(rs.getString("ref")));
      b.append('\t').append(str(rs.getString("note")));
      Array tags = rs.getArray("tags");
      if (tags == null) {
        b.append('\t').append(NULL);
      } else {
        Object[] items = (Object[]) tags.getArray();
        StringBuilder t = new StringBuilder("{");
        for (int i = 0; i < items.length; i++) {
          if (i > 0) t.append(',');
          t.append(items[i] == null ? "NULL" : items[i].toString());
        }
        b.append('\t').append(t.append('}'));
      }
      b.append('\t').append(str(rs.getString("doc")));
      byte[] photo = rs.getBytes("photo");
      if (photo == null) {
        b.append('\t').append(NULL);
      } else {
        StringBuilder h = new StringBuilder("\\x");
        for (byte x : photo) h.append(String.format("%02x", x & 0xff));
        b.append('\t').append(h);
      }
      OffsetDateTime ts = rs.getObject("ts", OffsetDateTime.class);
      b.append('\t').append(ts == null ? NULL : ts.toInstant().toString());
      System.out.println(b);
      n++;
    }
    System.out.println("rows\t" + run + "\t" + n);
  }
}
