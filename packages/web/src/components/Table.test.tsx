import { act } from "react";
import { describe, expect, it } from "vitest";
import { useMountedRoot } from "../lib/mount.fixtures";
import { Table } from "./Table";

describe("Table", () => {
  const view = useMountedRoot();

  it("names each column in a header cell scoped to it and puts its children in the body", () => {
    act(() =>
      view.root.render(
        <Table columns={["Host", "Status"]} label="Hosts">
          <tr>
            <td>h1</td>
            <td>ONLINE</td>
          </tr>
        </Table>,
      ),
    );
    const table = view.container.querySelector(".table-wrap > table");
    expect(table?.getAttribute("aria-label")).toBe("Hosts");
    expect([...(table?.querySelectorAll("thead th[scope=col]") ?? [])].map((th) => th.textContent)).toEqual([
      "Host",
      "Status",
    ]);
    expect([...(table?.querySelectorAll("tbody td") ?? [])].map((td) => td.textContent)).toEqual(["h1", "ONLINE"]);
  });
});
