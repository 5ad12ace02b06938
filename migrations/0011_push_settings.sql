ALTER TABLE "conversation_members" ADD COLUMN "notify" text DEFAULT 'all' NOT NULL;--> statement-breakpoint
ALTER TABLE "push_deliveries" ADD COLUMN "kind" text DEFAULT 'message' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "dnd_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "push_preview" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_xid_brin_idx" ON "messages" USING brin ((("xid"::text)::bigint)) WITH (pages_per_range=16);--> statement-breakpoint
ALTER TABLE "conversation_members" ADD CONSTRAINT "conversation_members_notify_check" CHECK ("conversation_members"."notify" in ('all', 'mentions', 'none'));