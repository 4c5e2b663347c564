import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops the foreign key from webhook_deliveries to events. Checking it cost a
 * `SELECT ... FOR KEY SHARE` on events per delivery inserted (two per
 * payment), although every statement that makes a delivery already
 * guarantees its event: the recorder makes deliveries only for the events
 * its own INSERT just wrote (same statement), a redelivery joins the event
 * row and takes the very lock the constraint took (`FOR KEY SHARE`, which
 * the retention sweeper's `FOR UPDATE SKIP LOCKED` skips), and the sweeper
 * deletes an event's deliveries in the statement that deletes the event.
 */
export class DeliveriesWithoutEventFk1736300000000 implements MigrationInterface {
  name = 'DeliveriesWithoutEventFk1736300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_event_id_fkey');
  }

  async down(runner: QueryRunner): Promise<void> {
    // Fails, rather than deleting anything, if a delivery without its event exists.
    await runner.query('ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id)');
  }
}
