PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_agents` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text,
	`principal` text NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`config` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch() * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch() * 1000) NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_agents`("id", "project_id", "principal", "slug", "name", "config", "created_at", "updated_at") SELECT "id", "project_id", 'project' AS "principal", "slug", "name", "config", "created_at", "updated_at" FROM `agents`;--> statement-breakpoint
DROP TABLE `agents`;--> statement-breakpoint
ALTER TABLE `__new_agents` RENAME TO `agents`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `agents_project_slug_idx` ON `agents` (`project_id`,`slug`) WHERE project_id is not null;--> statement-breakpoint
CREATE UNIQUE INDEX `agents_principal_slug_idx` ON `agents` (`principal`,`slug`) WHERE project_id is null;--> statement-breakpoint
DROP INDEX `threads_principal_idx`;--> statement-breakpoint
CREATE INDEX `threads_project_idx` ON `threads` (`project_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `threads_principal_idx` ON `threads` (`principal`,`created_at`);