ALTER TABLE `api_keys` ADD `scope` text DEFAULT 'admin' NOT NULL;--> statement-breakpoint
ALTER TABLE `projects` ADD `hosted_models` text;