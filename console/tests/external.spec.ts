import { expect, test } from "@playwright/test";

// The hub's console signing people in at an external OpenID Connect provider (here a second
// hub, run by tests/tests/e2e/console.rs): the sign-in page is the provider's, the tokens are
// the provider's, and this hub lets the person in as the provider says they are.
const provider = process.env.CAUSEWAY_PROVIDER_URL ?? "";
const user = process.env.CAUSEWAY_USER ?? "";
const password = process.env.CAUSEWAY_PASSWORD ?? "";

test("a person signs in at the department's provider, queries here and signs out there", async ({ page }) => {
  await page.goto("/console/");
  // The provider's own sign-in page, on its own origin.
  await expect(page).toHaveURL(new RegExp(`^${provider}/oauth/authorize\\?.*client_id=district-console`));
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
  await expect(page.getByTestId("who")).toHaveText("Sun Li");

  // Its token works on this hub's API, under this hub's grants.
  await page.getByRole("link", { name: "SQL workbench" }).click();
  await page.getByLabel("SQL", { exact: true }).fill("SELECT name FROM civil_affairs.residents ORDER BY name");
  await page.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await page.getByRole("button", { name: "Run" }).click();
  await expect(page.getByRole("status")).toHaveText("Rows: 6");

  // Signing out revokes the refresh token at the provider; the next visit signs in there.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByText("You are signed out.")).toBeVisible();
  await page.goto("/console/");
  await expect(page).toHaveURL(new RegExp(`^${provider}/oauth/authorize\\?`));
});
