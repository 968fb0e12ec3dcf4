import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.Properties;

/**
 * Drives PostgreSQL through pgjdbc and prints what it sees, one fact a line,
 * so a run through pgwarden can be compared with a run against the server.
 *
 * Args: host port database user password sslmode table [sslrootcert]
 * The table name is unique per run and printed as "T".
 */
public final class JdbcCheck {
  private static String table;

  public static void main(String[] a) throws Exception {
    if (a.length < 7) {
      System.err.println("usage: JdbcCheck host port db user password sslmode table [sslrootcert]");
      System.exit(2);
    }
    table = a[6];
    Properties p = new Properties();
    p.setProperty("user", a[3]);
    p.setProperty("password", a[4]);
    p.setProperty("sslmode", a[5]);
    if (a.length > 7) {
      p.setProperty("sslrootcert", a[7]);
    }
    p.setProperty("prepareThreshold", "1");  // named server-side statements from the first use
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "60");
    String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[2];
    try (Connection c = DriverManager.getConnection(url, p)) {
      run(c);
    }
    System.out.println("done");
  }

  private static void run(Connection c) throws SQLException {
    DatabaseMetaData md = c.getMetaData();
    out("product", md.getDatabaseProductName() + " " + md.getDatabaseMajorVersion());
    out("version", md.getDatabaseProductVersion());
    try (Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT current_user, current_database(), current_setting('DateStyle'), "
          + "current_setting('client_encoding'), current_setting('extra_float_digits')")) {
        dump("session", rs);
      }
      s.execute("DROP TABLE IF EXISTS " + table);
      s.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, name text NOT NULL, "
          + "amount numeric(12,3), at timestamp, blob bytea, flag boolean)");
    }
    try {
      body(c, md);
    } finally {
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE " + table);
      }
    }
  }

  private static void body(Connection c, DatabaseMetaData md) throws SQLException {
    // Prepared statements, several types, reused so the named statement is hit again.
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT ?::int + 1, ?::text || '!', ?::numeric * 2, ?::timestamp, ?::bytea, ?::boolean, ?::text IS NULL")) {
      for (int i = 0; i < 3; i++) {
        ps.setInt(1, 41 + i);
        ps.setString(2, "héllo " + i);
        ps.setBigDecimal(3, new BigDecimal("1.125"));
        ps.setTimestamp(4, Timestamp.valueOf("2024-02-29 10:11:12.345"));
        ps.setBytes(5, new byte[] {0, 1, (byte) 0xff});
        ps.setBoolean(6, i % 2 == 0);
        ps.setNull(7, Types.VARCHAR);
        try (ResultSet rs = ps.executeQuery()) {
          dump("prepared" + i, rs);
        }
      }
    }
    // Batch insert: many Bind/Execute before one Sync.
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO " + table + " (id, name, amount, at, blob, flag) VALUES (?, ?, ?, ?, ?, ?)")) {
      for (int i = 1; i <= 250; i++) {
        ps.setInt(1, i);
        ps.setString(2, "name-" + i);
        ps.setBigDecimal(3, new BigDecimal(i).divide(new BigDecimal(8)));
        ps.setTimestamp(4, Timestamp.valueOf("2023-01-01 00:00:00"));
        ps.setBytes(5, new byte[] {(byte) i});
        if (i % 3 == 0) {
          ps.setNull(6, Types.BOOLEAN);
        } else {
          ps.setBoolean(6, i % 2 == 0);
        }
        ps.addBatch();
      }
      int[] counts = ps.executeBatch();
      int sum = 0;
      for (int n : counts) {
        sum += n;
      }
      out("batch", counts.length + " statements, " + sum + " rows");
    }
    // A transaction rolled back, one with an error, one committed.
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.executeUpdate("DELETE FROM " + table + " WHERE id > 100");
      c.rollback();
      try {
        s.executeUpdate("INSERT INTO " + table + " (id, name) VALUES (1, 'duplicate')");
        out("duplicate", "no error?!");
      } catch (SQLException e) {
        out("duplicate", e.getSQLState() + " " + e.getMessage().replace(table, "T"));
      }
      try {
        s.executeQuery("SELECT 1");
        out("aborted", "no error?!");
      } catch (SQLException e) {
        out("aborted", e.getSQLState());
      }
      c.rollback();
      s.executeUpdate("UPDATE " + table + " SET name = upper(name) WHERE id <= 10");
      c.commit();
      // Fetch size in a transaction: a portal read in chunks (PortalSuspended).
      s.setFetchSize(40);
      try (ResultSet rs = s.executeQuery("SELECT id, name, amount, at, blob, flag FROM " + table + " ORDER BY id")) {
        int rows = 0;
        long ids = 0;
        StringBuilder some = new StringBuilder();
        while (rs.next()) {
          rows++;
          ids += rs.getInt(1);
          if (rows % 50 == 1) {
            some.append(row(rs)).append(" ; ");
          }
        }
        out("fetched", rows + " rows, id sum " + ids + " :: " + some);
      }
      c.commit();
    }
    c.setAutoCommit(true);
    // Metadata queries (pgjdbc runs catalog SQL for these).
    try (ResultSet rs = md.getColumns(null, "public", table, null)) {
      while (rs.next()) {
        out("column", rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME") + " size="
            + rs.getInt("COLUMN_SIZE") + " nullable=" + rs.getInt("NULLABLE"));
      }
    }
    try (ResultSet rs = md.getPrimaryKeys(null, "public", table)) {
      while (rs.next()) {
        out("pk", rs.getString("COLUMN_NAME") + " " + rs.getString("PK_NAME").replace(table, "T"));
      }
    }
    // Generated keys (RETURNING) and a server-side error with position.
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO " + table + " (id, name) VALUES (?, ?)", new String[] {"id", "name"})) {
      ps.setInt(1, 1000);
      ps.setString(2, "returned");
      ps.executeUpdate();
      try (ResultSet rs = ps.getGeneratedKeys()) {
        dump("generated", rs);
      }
    }
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT no_such_column FROM " + table);
    } catch (SQLException e) {
      out("error", e.getSQLState() + " " + e.getMessage().replace(table, "T"));
    }
  }

  private static void dump(String label, ResultSet rs) throws SQLException {
    ResultSetMetaData m = rs.getMetaData();
    StringBuilder cols = new StringBuilder();
    for (int i = 1; i <= m.getColumnCount(); i++) {
      cols.append(m.getColumnTypeName(i)).append(' ');
    }
    out(label + ".types", cols.toString().trim());
    while (rs.next()) {
      out(label, row(rs));
    }
  }

  private static String row(ResultSet rs) throws SQLException {
    StringBuilder b = new StringBuilder();
    int n = rs.getMetaData().getColumnCount();
    for (int i = 1; i <= n; i++) {
      Object o = rs.getObject(i);
      String v;
      if (o instanceof byte[]) {
        StringBuilder h = new StringBuilder("0x");
        for (byte x : (byte[]) o) {
          h.append(String.format("%02x", x));
        }
        v = h.toString();
      } else {
        v = String.valueOf(o);
      }
      b.append(i > 1 ? " | " : "").append(o == null ? "null" : o.getClass().getSimpleName() + ":" + v);
    }
    return b.toString();
  }

  private static void out(String key, String value) {
    System.out.println(key + ": " + value);
  }
}
