CREATE TABLE "conversation_changes" (
	"conversation_id" uuid NOT NULL,
	"key" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"audience_user_id" uuid,
	"message_id" uuid,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"xid" "xid8" DEFAULT pg_current_xact_id(),
	CONSTRAINT "conversation_changes_conversation_id_key_pk" PRIMARY KEY("conversation_id","key")
);
--> statement-breakpoint
ALTER TABLE "conversation_members" ADD COLUMN "joined_xid" "xid8";--> statement-breakpoint
ALTER TABLE "conversation_members" ALTER COLUMN "joined_xid" SET DEFAULT pg_current_xact_id();--> statement-breakpoint
ALTER TABLE "conversation_members" ADD COLUMN "left_xid" "xid8";--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "last_message_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "last_xid" "xid8";--> statement-breakpoint
ALTER TABLE "conversations" ALTER COLUMN "last_xid" SET DEFAULT pg_current_xact_id();--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "xid" "xid8";--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "xid" SET DEFAULT pg_current_xact_id();--> statement-breakpoint
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "conversation_changes_seq_key" ON "conversation_changes" USING btree ("conversation_id","seq");--> statement-breakpoint
CREATE INDEX "conversation_changes_message_idx" ON "conversation_changes" USING btree ("message_id") WHERE "conversation_changes"."message_id" is not null;--> statement-breakpoint
-- Until now every seq was a message. (The xid columns are added without a default first and get it
-- after, so existing rows keep NULL, which every snapshot sees, and no table is rewritten.)
UPDATE "conversations" SET "last_message_seq" = "last_seq";