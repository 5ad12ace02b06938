ALTER TABLE "push_deliveries" ADD COLUMN "burst_from_seq" bigint;--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "shown_message_id" uuid;--> statement-breakpoint
CREATE INDEX "push_deliveries_shown_idx" ON "push_deliveries" USING btree ("shown_message_id") WHERE "push_deliveries"."shown_message_id" is not null;