import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { appSecrets } from '../db/schema.js';
import { randomToken } from './crypto.js';

/**
 * A generated secret stored in the database, so every instance on that database uses the same one
 * (and the embedded PGlite keeps it in DATA_DIR). The first instance to ask creates it.
 */
export async function getOrCreateSecret(db: Database, name: string, generate: () => string = () => randomToken(48)): Promise<string> {
  await db.insert(appSecrets).values({ name, value: generate() }).onConflictDoNothing();
  const [row] = await db.select().from(appSecrets).where(eq(appSecrets.name, name));
  return row!.value;
}
