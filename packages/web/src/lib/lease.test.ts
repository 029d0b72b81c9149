import { describe, expect, it } from "vitest";
import { leaseLeft } from "./lease";

const now = Date.parse("2026-12-01T12:00:00Z");
const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();

describe("leaseLeft", () => {
  it("counts the last hour down to the second and flags the last ten minutes", () => {
    expect(leaseLeft(at(9 * 60 + 5), now)).toEqual({ expired: false, soon: true, text: "9m 05s left" });
    expect(leaseLeft(at(45 * 60), now)).toEqual({ expired: false, soon: false, text: "45m 00s left" });
  });

  it("shows hours and minutes within a day, days and hours beyond", () => {
    expect(leaseLeft(at(2 * 3600 + 7 * 60 + 59), now).text).toBe("2h 07m left");
    expect(leaseLeft(at(3 * 86_400 + 5 * 3600), now).text).toBe("3d 5h left");
  });

  it("reports a lease at or past its end as expired", () => {
    expect(leaseLeft(at(0), now)).toEqual({ expired: true, soon: true, text: "expired" });
    expect(leaseLeft(at(-30), now).expired).toBe(true);
  });
});
