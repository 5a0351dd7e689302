import { expect, test, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

const user = process.env.CAUSEWAY_USER ?? "";
const password = process.env.CAUSEWAY_PASSWORD ?? "";
const screenshots = process.env.CAUSEWAY_SCREENSHOTS ?? "screenshots";

/** Collects what the browser refused under the Content-Security-Policy. */
function policyViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  return violations;
}

async function signIn(page: Page): Promise<void> {
  await page.goto("/console/");
  // The hub's own sign-in page (the built-in OpenID Connect provider).
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
}

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id}: ${violation.help}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
}

test("a person signs in, browses the catalogue in two languages and signs out", async ({ page }) => {
  const violations = policyViolations(page);
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.screenshot({ path: `${screenshots}/sign-in-1280x800.png` });
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("user name or password is wrong");

  await page.getByLabel("Password").fill(password);
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
  await expect(page.getByTestId("who")).toHaveText(process.env.CAUSEWAY_PERSON_NAME ?? user);

  // Every published dataset, by department, and a search that narrows them.
  await expect(page.getByRole("link", { name: "Residents" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Holdings" })).toBeVisible();
  await page.getByLabel("Search datasets").fill("holdings");
  await expect(page.getByRole("link", { name: "Residents" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Holdings" })).toBeVisible();
  await page.getByLabel("Search datasets").fill("");
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/catalogue-1280x800.png`, fullPage: true });

  // A dataset's contract: its fields, types and classifications.
  await page.getByRole("link", { name: "Residents" }).click();
  const fields = page.locator(".el-table");
  await expect(fields).toContainText("id_number");
  await expect(fields).toContainText("pii.national_id");
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/dataset-1280x800.png`, fullPage: true });

  // Chinese, and back.
  await page.getByRole("button", { name: /Switch to Chinese/ }).click();
  await expect(page.getByRole("heading", { name: "字段" })).toBeVisible();
  await page.getByRole("link", { name: "返回数据目录" }).click();
  await expect(page.getByRole("heading", { name: "数据目录" })).toBeVisible();
  await page.getByRole("button", { name: /切换到英文/ }).click();

  // At a phone's size the catalogue still reads.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole("link", { name: "Residents" })).toBeVisible();
  await page.screenshot({ path: `${screenshots}/catalogue-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Signed out: the console forgets the token and the hub the refresh token; the next
  // visit starts at the sign-in page again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByText("You are signed out.")).toBeVisible();
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  expect(violations).toEqual([]);
});

test("a reloaded console signs in again, since the token lives only in memory", async ({ page }) => {
  await signIn(page);
  await page.reload();
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
});
