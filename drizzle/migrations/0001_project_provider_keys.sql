CREATE TABLE `project_provider_keys` (
	`project_id` text NOT NULL,
	`provider` text NOT NULL,
	`api_key` text NOT NULL,
	`updated_at` integer DEFAULT (unixepoch() * 1000) NOT NULL,
	PRIMARY KEY(`project_id`, `provider`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE no action
);
