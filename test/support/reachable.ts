// Whether a service of the machine (PostgreSQL, Redis) answers, asked up to three times: a test
// file that starts while the two cores are busy with another file's worker processes can miss a
// single short try, and a missed try fails the suite under VPR_REQUIRE_SERVICES=1.
export async function reachable(tryOnce: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryOnce().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}
