CREATE TABLE "announcement_log" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"last_xid" "xid8" DEFAULT pg_current_xact_id(),
	CONSTRAINT "announcement_log_single_row" CHECK ("announcement_log"."id")
);
--> statement-breakpoint
CREATE TABLE "user_changes" (
	"user_id" uuid NOT NULL,
	"key" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"data" jsonb,
	"status_id" uuid,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"xid" "xid8" DEFAULT pg_current_xact_id(),
	CONSTRAINT "user_changes_user_id_key_pk" PRIMARY KEY("user_id","key")
);
--> statement-breakpoint
CREATE TABLE "user_logs" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"last_xid" "xid8" DEFAULT pg_current_xact_id()
);
--> statement-breakpoint
ALTER TABLE "announcements" ADD COLUMN "seq" bigint;--> statement-breakpoint
ALTER TABLE "announcements" ADD COLUMN "xid" "xid8";--> statement-breakpoint
ALTER TABLE "user_changes" ADD CONSTRAINT "user_changes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_changes" ADD CONSTRAINT "user_changes_status_id_statuses_id_fk" FOREIGN KEY ("status_id") REFERENCES "public"."statuses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_logs" ADD CONSTRAINT "user_logs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "user_changes_seq_key" ON "user_changes" USING btree ("user_id","seq");--> statement-breakpoint
CREATE INDEX "user_changes_status_idx" ON "user_changes" USING btree ("status_id") WHERE "user_changes"."status_id" is not null;--> statement-breakpoint
CREATE INDEX "user_changes_tombstones_idx" ON "user_changes" USING btree ("changed_at") WHERE "user_changes"."type" in ('status.deleted', 'user.unblocked');--> statement-breakpoint
CREATE UNIQUE INDEX "announcements_seq_key" ON "announcements" USING btree ("seq");--> statement-breakpoint
-- The announcements log has one counter row. Announcements made before it have no seq: they are in every snapshot (GET /announcements lists them).
INSERT INTO "announcement_log" DEFAULT VALUES;
