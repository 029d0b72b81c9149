import type { ReactNode } from "react";

/** A table that scrolls sideways on narrow screens, with one header row naming `columns`; `children` are its rows. */
export function Table({ columns, label, children }: { columns: string[]; label?: string; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
