// The PostgreSQL wire protocol as DBeaver and Power BI reach it, through pgjdbc:
// java -cp postgresql.jar:. WireClient PORT USER PASSWORD
// Lists schemas, tables and columns with DatabaseMetaData, runs a prepared statement with a
// parameter, and has a query for a purpose no grant serves refused; prints one line per fact.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

public class WireClient {
    static Connection connect(String port, String user, String password, String purpose) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", user);
        properties.setProperty("password", password);
        properties.setProperty("options", "-c causeway.purpose=" + purpose);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/causeway?sslmode=disable", properties);
    }

    public static void main(String[] args) throws Exception {
        try (Connection connection = connect(args[0], args[1], args[2], "testing")) {
            DatabaseMetaData meta = connection.getMetaData();
            System.out.println("product " + meta.getDatabaseProductName());
            try (ResultSet rows = meta.getSchemas()) {
                while (rows.next()) System.out.println("schema " + rows.getString("TABLE_SCHEM"));
            }
            try (ResultSet rows = meta.getTables(null, "civil_affairs", "%", new String[] {"TABLE"})) {
                while (rows.next()) System.out.println("table " + rows.getString("TABLE_SCHEM") + "." + rows.getString("TABLE_NAME"));
            }
            try (ResultSet rows = meta.getColumns(null, "civil_affairs", "people", "%")) {
                while (rows.next()) {
                    System.out.println("column " + rows.getString("COLUMN_NAME") + " " + rows.getString("TYPE_NAME"));
                    if ("numeric".equals(rows.getString("TYPE_NAME"))) {
                        System.out.println("column " + rows.getString("COLUMN_NAME") + " size " + rows.getInt("COLUMN_SIZE")
                            + " digits " + rows.getInt("DECIMAL_DIGITS"));
                    }
                }
            }
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT name, amount FROM civil_affairs.people WHERE id = ?")) {
                statement.setLong(1, 2L);
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) System.out.println("prepared " + rows.getString(1) + " " + rows.getBigDecimal(2));
                    java.sql.ResultSetMetaData described = rows.getMetaData();
                    System.out.println("prepared " + described.getColumnTypeName(2) + "("
                        + described.getPrecision(2) + ", " + described.getScale(2) + ")");
                }
            }
        }
        try (Connection connection = connect(args[0], args[1], args[2], "marketing");
             PreparedStatement statement = connection.prepareStatement("SELECT name FROM civil_affairs.people")) {
            statement.executeQuery();
            System.out.println("refused none");
        } catch (SQLException error) {
            System.out.println("refused " + error.getSQLState());
        }
    }
}
