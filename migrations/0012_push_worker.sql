DROP INDEX "push_deliveries_due_idx";--> statement-breakpoint
DROP INDEX "push_deliveries_device_idx";--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "platform" text;--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "conversation_id" uuid;--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "seq" bigint;--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "claim" uuid;--> statement-breakpoint
UPDATE "push_deliveries" p SET "platform" = d."platform", "conversation_id" = m."conversation_id", "seq" = m."seq"
  FROM "push_devices" d, "messages" m WHERE d."id" = p."device_id" AND m."id" = p."message_id";--> statement-breakpoint
ALTER TABLE "push_deliveries" ALTER COLUMN "platform" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "push_deliveries" ALTER COLUMN "conversation_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "push_deliveries" ALTER COLUMN "seq" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "push_deliveries_claim_idx" ON "push_deliveries" USING btree ("claim") WHERE "push_deliveries"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "push_deliveries_due_idx" ON "push_deliveries" USING btree ("platform","send_after") WHERE "push_deliveries"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "push_deliveries_device_idx" ON "push_deliveries" USING btree ("device_id","conversation_id","seq");
