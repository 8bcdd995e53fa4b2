package dev.mesh.istioctl;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * A table as istioctl prints its own through Go's text/tabwriter (min width 0, pad with spaces):
 * each cell but a row's last is padded to its column's widest cell plus {@code padding}; the last
 * cell is not aligned. Trailing blanks (empty last cells) are trimmed.
 */
final class Columns {
  private final int padding;
  private final List<List<String>> rows = new ArrayList<>();

  Columns(int padding) {
    this.padding = padding;
  }

  Columns row(Object... cells) {
    List<String> r = new ArrayList<>();
    for (Object c : cells) {
      r.add(c == null ? "" : c.toString());
    }
    rows.add(r);
    return this;
  }

  void print(PrintWriter out) {
    int columns = rows.stream().mapToInt(List::size).max().orElse(0);
    int[] widths = new int[columns];
    for (List<String> r : rows) {
      for (int i = 0; i < r.size() - 1; i++) {
        widths[i] = Math.max(widths[i], r.get(i).length() + padding);
      }
    }
    for (List<String> r : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < r.size(); i++) {
        line.append(r.get(i));
        if (i < r.size() - 1) {
          line.append(" ".repeat(widths[i] - r.get(i).length()));
        }
      }
      out.println(line.toString().stripTrailing());
    }
  }
}
